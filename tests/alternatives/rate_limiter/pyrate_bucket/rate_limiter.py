"""A distributed rate limiter built on pyrate-limiter's Redis bucket (a sliding-window log).

pyrate-limiter's ``RedisBucket`` checks and records a request in one Lua script of its own
(``EVALSHA``), with the time taken from the limiter's injected clock. Around it this module
adds what the contract needs and the library leaves to its user: a TTL on every key (one
window past the last admitted request), the trimming of entries that left the window, a
reload of the script after ``NOSCRIPT``, the exact remaining count, and the failure policy.
A bucket object keeps the outcome of its last ``put``, so each request gets its own.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ParamSpec, TypedDict, TypeVar, cast

import redis
import redis.asyncio
from pyrate_limiter import Rate, RateItem
from pyrate_limiter.buckets.redis_bucket import LuaScript, RedisBucket
from redis.exceptions import NoScriptError, RedisError

__all__ = ["AsyncRateLimiter", "Decision", "RateLimitExceeded", "RateLimiter", "rate_limited"]

P = ParamSpec("P")
R = TypeVar("R")
logger = logging.getLogger("rate_limiter")
MAX_KEY_LENGTH = 256


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

    def _request(self, key: str) -> tuple[str, RateItem, list[Rate]]:
        """The Redis key, the bucket item (now, in ms) and the rate of one request on ``key``."""
        _check_key(key)
        item = RateItem(f"{self._namespace}:{key}", round(self._clock() * 1000))
        return f"{self._namespace}:{key}", item, [Rate(self.limit_for(key), self._window_ms)]

    def _decided(self, key: str, reply: list[int]) -> Decision:
        """The Decision for ``reply`` (admitted, remaining, retry after in ms), counted."""
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
    """Per-key sliding-window logs (pyrate-limiter buckets) on a sync Redis client;
    safe to share between threads."""

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
        self._redis = redis_client
        self._script_hash = ""
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
        name, item, rates = self._request(key)
        try:
            for _ in range(2):
                if not self._script_hash:
                    self._script_hash = str(self._redis.script_load(LuaScript.PUT_ITEM))
                bucket = RedisBucket(rates, self._redis, name, self._script_hash)
                try:
                    admitted = bucket.put(item)
                    break
                except NoScriptError:
                    self._script_hash = ""  # Redis restarted or flushed its scripts
            else:
                raise RedisError("the script could not be loaded")
            if not admitted:
                waited = bucket.waiting(item)
                assert isinstance(waited, int)
                return self._decided(key, [0, 0, waited])
            window_ms = rates[0].interval
            with self._redis.pipeline(transaction=False) as pipe:  # one round trip
                pipe.zremrangebyscore(name, 0, item.timestamp - window_ms - 1)
                pipe.pexpire(name, window_ms + 1)
                pipe.zcount(name, item.timestamp - window_ms, item.timestamp)
                used = pipe.execute()[-1]
        except RedisError as error:
            return self._failed(key, error)
        return self._decided(key, [1, max(0, rates[0].limit - int(used)), 0])


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
        self._redis = redis_client
        self._script_hash = ""
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
        name, item, rates = self._request(key)
        try:
            for _ in range(2):
                if not self._script_hash:
                    self._script_hash = str(await self._redis.script_load(LuaScript.PUT_ITEM))
                bucket = RedisBucket(rates, self._redis, name, self._script_hash)
                try:
                    admitted = await cast(Awaitable[bool], bucket.put(item))
                    break
                except NoScriptError:
                    self._script_hash = ""  # Redis restarted or flushed its scripts
            else:
                raise RedisError("the script could not be loaded")
            if not admitted:
                waited = bucket.waiting(item)
                if not isinstance(waited, int):
                    waited = await waited
                return self._decided(key, [0, 0, waited])
            window_ms = rates[0].interval
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zremrangebyscore(name, 0, item.timestamp - window_ms - 1)
                pipe.pexpire(name, window_ms + 1)
                pipe.zcount(name, item.timestamp - window_ms, item.timestamp)
                used = (await pipe.execute())[-1]
        except RedisError as error:
            return self._failed(key, error)
        return self._decided(key, [1, max(0, rates[0].limit - int(used)), 0])


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
