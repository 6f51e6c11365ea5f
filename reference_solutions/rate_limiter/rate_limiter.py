"""A distributed sliding-window rate limiter on Redis, atomic through one Lua script.

Each key's admitted requests live in a sorted set ``<namespace>:<key>`` (score: the time in
ms), trimmed to the last window and given a TTL of one window, so idle keys vanish. The
script decides and records in one step, so concurrent callers on any number of processes
never admit more than the limit. Time comes from the limiter's injected clock and is passed
to the script, so tests drive it. A Redis error is counted, logged and answered as
configured: admit (fail open, the default) or refuse (fail closed).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ParamSpec, TypedDict, TypeVar, cast

import redis
import redis.asyncio
from redis.exceptions import RedisError

__all__ = ["AsyncRateLimiter", "Decision", "RateLimitExceeded", "RateLimiter", "rate_limited"]

P = ParamSpec("P")
R = TypeVar("R")
logger = logging.getLogger("rate_limiter")
MAX_KEY_LENGTH = 256

SLIDING_WINDOW_LOG = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
    redis.call('ZADD', key, now, ARGV[4])
    redis.call('PEXPIRE', key, window)
    return {1, limit - count - 1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, 0, tonumber(oldest[2]) + window - now}
"""
"""KEYS[1]: the key's sorted set; ARGV: now (ms), window (ms), limit, a unique member.
Returns {admitted (1/0), remaining, retry after (ms)}."""


class Decision(TypedDict):
    """One request's verdict: plain values, ready for headers or JSON."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: float


class RateLimitExceeded(Exception):
    """Raised by :func:`rate_limited` when a call's key is over its limit."""

    def __init__(self, key: str, retry_after: float) -> None:
        """Keep the refused ``key`` and ``retry_after``, the seconds until it is admitted."""
        super().__init__(f"rate limit exceeded for {key!r}: retry after {retry_after:.3f} s")
        self.key = key
        self.retry_after = retry_after


class _Limits:
    """Settings, validation, metrics and decisions shared by the sync and async limiters."""

    def __init__(
        self,
        *,
        limit: int,
        window_seconds: float,
        namespace: str,
        fail_open: bool,
        limits: Mapping[str, int] | None,
        clock: Callable[[], float],
    ) -> None:
        _check_limit(limit, "limit")
        if isinstance(window_seconds, bool) or not isinstance(window_seconds, int | float):
            raise ValueError(f"window_seconds must be a number, got {window_seconds!r}")
        if not window_seconds >= 0.001:
            raise ValueError(f"window_seconds must be at least 0.001, got {window_seconds!r}")
        if not isinstance(namespace, str) or not namespace:
            raise ValueError(f"namespace must be a non-empty str, got {namespace!r}")
        overrides = dict(limits or {})
        for key, value in overrides.items():
            _check_key(key)
            _check_limit(value, f"limits[{key!r}]")
        self._limit = limit
        self._window_ms = round(window_seconds * 1000)
        self._namespace = namespace
        self._fail_open = fail_open
        self._limits = overrides
        self._clock = clock
        self._counts = {"allowed": 0, "denied": 0, "errors": 0}
        self._lock = threading.Lock()

    def limit_for(self, key: str) -> int:
        """The limit of ``key``: its entry in ``limits``, else the default ``limit``."""
        return self._limits.get(key, self._limit)

    def metrics(self) -> dict[str, int]:
        """Counts since creation: requests ``allowed`` and ``denied``, Redis ``errors``."""
        with self._lock:
            return dict(self._counts)

    def _script_args(self, key: str) -> tuple[list[str], list[int | str]]:
        """The script's KEYS and ARGV for one request on ``key`` (validated first)."""
        _check_key(key)
        now_ms = round(self._clock() * 1000)
        member = f"{now_ms}-{os.urandom(8).hex()}"
        return [f"{self._namespace}:{key}"], [now_ms, self._window_ms, self.limit_for(key), member]

    def _decided(self, key: str, reply: list[int]) -> Decision:
        """The Decision for the script's ``reply``, counted."""
        allowed, remaining, retry_ms = (int(part) for part in reply)
        decision = Decision(
            allowed=allowed == 1,
            limit=self.limit_for(key),
            remaining=remaining,
            retry_after=retry_ms / 1000,
        )
        self._count("allowed" if decision["allowed"] else "denied")
        return decision

    def _failed(self, key: str, error: RedisError) -> Decision:
        """The configured answer when Redis fails: admit (fail open) or refuse for a window."""
        self._count("errors")
        policy = "admitting" if self._fail_open else "refusing"
        logger.warning("rate limit check for %r failed, %s: %r", key, policy, error)
        self._count("allowed" if self._fail_open else "denied")
        limit = self.limit_for(key)
        if self._fail_open:
            return Decision(allowed=True, limit=limit, remaining=limit, retry_after=0.0)
        return Decision(allowed=False, limit=limit, remaining=0, retry_after=self._window_ms / 1000)

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1


class RateLimiter(_Limits):
    """Per-key sliding-window limits on a sync Redis client; safe to share between threads."""

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        limit: int = 10,
        window_seconds: float = 1.0,
        namespace: str = "ratelimit",
        fail_open: bool = True,
        limits: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Admit ``limit`` requests per key in any ``window_seconds`` (``limits``: per key).

        ``fail_open`` chooses the answer when Redis fails; ``clock`` (seconds) is the time
        the script sees and ``sleep`` what :meth:`hit` waits with. No I/O happens here.
        """
        super().__init__(
            limit=limit,
            window_seconds=window_seconds,
            namespace=namespace,
            fail_open=fail_open,
            limits=limits,
            clock=clock,
        )
        self._script = redis_client.register_script(SLIDING_WINDOW_LOG)
        self._sleep = sleep

    def hit(self, key: str, *, wait: float = 0.0) -> Decision:
        """Count one request on ``key`` and return whether it is admitted.

        Never blocks by default; with ``wait`` seconds it sleeps out a refusal whose
        retry-after fits in what is left of ``wait``, then tries again.
        """
        budget = _check_wait(wait)
        while True:
            decision = self._attempt(key)
            if decision["allowed"] or not 0 < decision["retry_after"] <= budget:
                return decision
            self._sleep(decision["retry_after"])
            budget -= decision["retry_after"]

    def _attempt(self, key: str) -> Decision:
        keys, args = self._script_args(key)
        try:
            reply = self._script(keys=keys, args=args)
        except RedisError as error:
            return self._failed(key, error)
        return self._decided(key, reply)


class AsyncRateLimiter(_Limits):
    """The same limits on an asyncio Redis client, for async code; state is shared with
    :class:`RateLimiter` instances of the same namespace."""

    def __init__(
        self,
        redis_client: redis.asyncio.Redis,
        *,
        limit: int = 10,
        window_seconds: float = 1.0,
        namespace: str = "ratelimit",
        fail_open: bool = True,
        limits: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Admit ``limit`` requests per key in any ``window_seconds``, like RateLimiter;
        ``sleep`` is a coroutine function (default ``asyncio.sleep``)."""
        super().__init__(
            limit=limit,
            window_seconds=window_seconds,
            namespace=namespace,
            fail_open=fail_open,
            limits=limits,
            clock=clock,
        )
        self._script = redis_client.register_script(SLIDING_WINDOW_LOG)
        self._sleep = sleep

    async def hit(self, key: str, *, wait: float = 0.0) -> Decision:
        """Count one request on ``key`` and return whether it is admitted (see
        RateLimiter.hit: ``wait`` seconds to sleep out a refusal, none by default)."""
        budget = _check_wait(wait)
        while True:
            decision = await self._attempt(key)
            if decision["allowed"] or not 0 < decision["retry_after"] <= budget:
                return decision
            await self._sleep(decision["retry_after"])
            budget -= decision["retry_after"]

    async def _attempt(self, key: str) -> Decision:
        keys, args = self._script_args(key)
        try:
            reply = await self._script(keys=keys, args=args)
        except RedisError as error:
            return self._failed(key, error)
        return self._decided(key, reply)


def rate_limited(
    limiter: RateLimiter | AsyncRateLimiter, key: Callable[..., str]
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Guard a function with ``limiter``: ``key(*args, **kwargs)`` names each call's key.

    A refused call raises :class:`RateLimitExceeded` with the retry-after and never runs.
    Coroutine functions need an :class:`AsyncRateLimiter`, plain ones a :class:`RateLimiter`.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(func):
            if not isinstance(limiter, AsyncRateLimiter):
                raise TypeError(f"{func.__qualname__} is async: guard it with an AsyncRateLimiter")
            async_limiter = limiter

            @functools.wraps(func)
            async def guarded_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                name = key(*args, **kwargs)
                _raise_if_refused(name, await async_limiter.hit(name))
                return await cast(Callable[P, Awaitable[Any]], func)(*args, **kwargs)

            return cast(Callable[P, R], guarded_async)
        if not isinstance(limiter, RateLimiter):
            raise TypeError(f"{func.__qualname__} is not async: guard it with a RateLimiter")
        sync_limiter = limiter

        @functools.wraps(func)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            name = key(*args, **kwargs)
            _raise_if_refused(name, sync_limiter.hit(name))
            return func(*args, **kwargs)

        return guarded

    return decorate


def _raise_if_refused(key: str, decision: Decision) -> None:
    if not decision["allowed"]:
        raise RateLimitExceeded(key, decision["retry_after"])


def _check_key(key: object) -> None:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"key must be a non-empty str of at most {MAX_KEY_LENGTH} characters")


def _check_limit(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int of at least 1, got {value!r}")


def _check_wait(wait: object) -> float:
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not wait >= 0:
        raise ValueError(f"wait must be a number of seconds >= 0, got {wait!r}")
    return float(wait)
