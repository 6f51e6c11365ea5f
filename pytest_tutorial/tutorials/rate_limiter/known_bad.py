"""Known-bad ``rate_limiter`` implementations for the rate_limiter tutorial.

:class:`NaiveRateLimiter` and :class:`NaiveAsyncRateLimiter` are a deliberately plain
implementation of the tutorial's API: a log of admitted requests per key in a sorted set,
trimmed and counted by one Lua script. The window rules live in :class:`_Window`; with its
default flags it behaves like the contract asks, and each flag switches on one classic bug:

- ``sliding=False``: a fixed window (the log is cut at the start of the current window),
  so the limit passes just before a window edge and again just after it;
- ``set_ttl=False``: keys are written without an expiry, so idle keys never vanish.

:data:`KNOWN_BUGS` declares them. The harness builds one self-contained ``rate_limiter.py``
per bug from this source (:mod:`pytest_tutorial.known_bugs`), and the correct one with the
defaults, and runs the learner's own tests against each, which must catch every bug. The
hidden bugs are mutants of the correct build (``hidden_bugs.json``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import redis
import redis.asyncio
from redis.exceptions import RedisError

__all__ = ["NaiveAsyncRateLimiter", "NaiveRateLimiter", "RateLimitExceeded", "rate_limited"]

logger = logging.getLogger("rate_limiter")

KNOWN_BUGS = {
    "fixed_window": {
        "flags": {"sliding": False},
        "description": "counts in fixed windows, so twice the limit passes around a window edge",
    },
    "drops_ttl": {
        "flags": {"set_ttl": False},
        "description": "writes keys without a TTL, so idle keys never vanish",
    },
}
"""The known bugs: the flags that switch each on, and what it does (for messages)."""
PUBLIC_NAMES = {"NaiveRateLimiter": "RateLimiter", "NaiveAsyncRateLimiter": "AsyncRateLimiter"}
"""The contract's name of each class, in the modules built from this one."""

SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if count < tonumber(ARGV[3]) then
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
    if tonumber(ARGV[5]) > 0 then
        redis.call('PEXPIRE', KEYS[1], ARGV[5])
    end
    return {1, count, 0}
end
return {0, count, oldest[2]}
"""
"""ARGV: now (ms), the score at or below which entries are dropped, limit, a unique member,
the TTL in ms (0: none). Returns {admitted, count before, oldest score when refused}."""


class RateLimitExceeded(Exception):
    """A guarded call was refused; ``retry_after`` says when to try again."""

    def __init__(self, key: str, retry_after: float) -> None:
        super().__init__(f"rate limit exceeded for {key!r}: retry after {retry_after:.3f} s")
        self.key = key
        self.retry_after = retry_after


class _Window:
    """The settings and the window rules of one limiter, with two switchable bugs."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        namespace: str,
        limits: Mapping[str, int] | None,
        *,
        sliding: bool = True,
        set_ttl: bool = True,
    ) -> None:
        if type(limit) is not int or limit < 1:
            raise ValueError("limit must be an int of at least 1")
        if type(window_seconds) not in (int, float) or not window_seconds >= 0.001:
            raise ValueError("window_seconds must be a number of at least 0.001")
        if type(namespace) is not str or namespace == "":
            raise ValueError("namespace must be a non-empty str")
        self.limits = dict(limits or {})
        for key, value in self.limits.items():
            check_key(key)
            if type(value) is not int or value < 1:
                raise ValueError("every limit must be an int of at least 1")
        self.limit = limit
        self.window_ms = round(window_seconds * 1000)
        self.namespace = namespace
        self.sliding = sliding
        self.set_ttl = set_ttl

    def limit_for(self, key: str) -> int:
        return self.limits.get(key, self.limit)

    def script_args(self, key: str, now_ms: int) -> tuple[list[str], list[Any]]:
        check_key(key)
        window_start = now_ms - now_ms % self.window_ms
        cutoff = now_ms - self.window_ms if self.sliding else window_start - 1
        ttl = self.window_ms if self.set_ttl else 0
        member = f"{now_ms}:{uuid.uuid4().hex}"
        return [self.namespace + ":" + key], [now_ms, cutoff, self.limit_for(key), member, ttl]

    def decision(self, key: str, now_ms: int, reply: list[Any]) -> dict[str, Any]:
        limit = self.limit_for(key)
        if int(reply[0]) == 1:
            return {
                "allowed": True,
                "limit": limit,
                "remaining": limit - int(reply[1]) - 1,
                "retry_after": 0.0,
            }
        if self.sliding:
            free_at = int(float(reply[2])) + self.window_ms
        else:
            free_at = now_ms - now_ms % self.window_ms + self.window_ms
        return {
            "allowed": False,
            "limit": limit,
            "remaining": 0,
            "retry_after": (free_at - now_ms) / 1000,
        }


class _Counting:
    """Metrics and the Redis-failure answer shared by both limiters."""

    def __init__(self, fail_open: bool, window: _Window) -> None:
        self.fail_open = fail_open
        self.window = window
        self.counts = {"allowed": 0, "denied": 0, "errors": 0}
        self.lock = threading.Lock()

    def count(self, decision: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if decision["allowed"]:
                self.counts["allowed"] += 1
            else:
                self.counts["denied"] += 1
        return decision

    def failed(self, key: str, error: Exception) -> dict[str, Any]:
        with self.lock:
            self.counts["errors"] += 1
        logger.warning("rate limit check for %r failed: %r", key, error)
        limit = self.window.limit_for(key)
        if self.fail_open:
            return self.count(
                {"allowed": True, "limit": limit, "remaining": limit, "retry_after": 0.0}
            )
        return self.count(
            {
                "allowed": False,
                "limit": limit,
                "remaining": 0,
                "retry_after": self.window.window_ms / 1000,
            }
        )

    def metrics(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counts)


class NaiveRateLimiter:
    """The sync limiter."""

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
        self.window = _Window(limit, window_seconds, namespace, limits)
        self.counting = _Counting(fail_open, self.window)
        self.script = redis_client.register_script(SCRIPT)
        self.clock = clock
        self.sleep = sleep

    def limit_for(self, key: str) -> int:
        return self.window.limit_for(key)

    def metrics(self) -> dict[str, int]:
        return self.counting.metrics()

    def hit(self, key: str, *, wait: float = 0.0) -> dict[str, Any]:
        left = check_wait(wait)
        while True:
            now_ms = round(self.clock() * 1000)
            keys, args = self.window.script_args(key, now_ms)
            try:
                reply = self.script(keys=keys, args=args)
            except RedisError as error:
                return self.counting.failed(key, error)
            decision = self.counting.count(self.window.decision(key, now_ms, reply))
            if decision["allowed"] or decision["retry_after"] > left:
                return decision
            self.sleep(decision["retry_after"])
            left -= decision["retry_after"]


class NaiveAsyncRateLimiter:
    """The asyncio limiter."""

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
        self.window = _Window(limit, window_seconds, namespace, limits)
        self.counting = _Counting(fail_open, self.window)
        self.script = redis_client.register_script(SCRIPT)
        self.clock = clock
        self.sleep = sleep

    def limit_for(self, key: str) -> int:
        return self.window.limit_for(key)

    def metrics(self) -> dict[str, int]:
        return self.counting.metrics()

    async def hit(self, key: str, *, wait: float = 0.0) -> dict[str, Any]:
        left = check_wait(wait)
        while True:
            now_ms = round(self.clock() * 1000)
            keys, args = self.window.script_args(key, now_ms)
            try:
                reply = await self.script(keys=keys, args=args)
            except RedisError as error:
                return self.counting.failed(key, error)
            decision = self.counting.count(self.window.decision(key, now_ms, reply))
            if decision["allowed"] or decision["retry_after"] > left:
                return decision
            await self.sleep(decision["retry_after"])
            left -= decision["retry_after"]


def rate_limited(limiter: Any, key: Callable[..., str]) -> Callable[[Any], Any]:
    """Refuse calls over the limit with RateLimitExceeded; sync or async functions."""

    def decorate(func: Any) -> Any:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                name = key(*args, **kwargs)
                decision = await limiter.hit(name)
                if not decision["allowed"]:
                    raise RateLimitExceeded(name, decision["retry_after"])
                return await func(*args, **kwargs)

            return guarded_async

        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            name = key(*args, **kwargs)
            decision = limiter.hit(name)
            if not decision["allowed"]:
                raise RateLimitExceeded(name, decision["retry_after"])
            return func(*args, **kwargs)

        return guarded

    return decorate


def check_key(key: object) -> None:
    if type(key) is not str or key == "" or len(key) > 256:
        raise ValueError("key must be a non-empty str of at most 256 characters")


def check_wait(wait: object) -> float:
    if type(wait) not in (int, float) or not wait >= 0:  # type: ignore[operator]
        raise ValueError("wait must be a number of seconds >= 0")
    return float(wait)  # type: ignore[arg-type]
