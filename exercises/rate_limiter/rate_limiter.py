"""A distributed sliding-window rate limiter on Redis, atomic through one Lua script.

This is your starting point for the rate_limiter tutorial
(``pytest_tutorial/tutorials/rate_limiter/tutorial.md``). The names, signatures, type hints
and docstrings are the contract the checks test; every body raises NotImplementedError and
says which step of the tutorial implements it. Replace the bodies, keep the signatures.
Check your progress from the repository root with ``pytest --tutorial=rate_limiter``.

TODO: as you implement each piece, replace the TODO notes in its docstring with a
description of what your code does: the documentation check counts a docstring that
still says TODO as missing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import ParamSpec, TypedDict, TypeVar

import redis
import redis.asyncio

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
        """TODO (Step 6): keep ``key`` and ``retry_after`` as attributes; the message names
        the key and says "retry after" with the seconds."""
        raise NotImplementedError("RateLimitExceeded is not implemented yet: see Step 6")


class RateLimiter:
    """Per-key sliding-window limits on a sync Redis client; safe to share between threads.

    TODO (Steps 1 to 4): one Lua script per request trims the key's sorted set to the
    window, counts it, records an admitted request and sets a TTL of one window.
    """

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
        """TODO (Step 1): validate every setting (ValueError), keep them, register the
        script with ``redis_client.register_script``; no I/O here."""
        raise NotImplementedError("RateLimiter.__init__ is not implemented yet: see Step 1")

    def hit(self, key: str, *, wait: float = 0.0) -> Decision:
        """TODO (Steps 2 and 3): validate ``key``, run the script with the clock's time in
        ms, return the Decision; sleep out a refusal only within ``wait`` seconds."""
        raise NotImplementedError("RateLimiter.hit is not implemented yet: see Step 2")

    def limit_for(self, key: str) -> int:
        """TODO (Step 2): the limit of ``key``: its ``limits`` entry, else ``limit``."""
        raise NotImplementedError("RateLimiter.limit_for is not implemented yet: see Step 2")

    def metrics(self) -> dict[str, int]:
        """TODO (Step 3): counts of ``allowed`` and ``denied`` decisions and Redis
        ``errors`` since creation, as a new dict."""
        raise NotImplementedError("RateLimiter.metrics is not implemented yet: see Step 3")


class AsyncRateLimiter:
    """The same limits on an asyncio Redis client, for async code.

    TODO (Step 3): same settings, keys and script as RateLimiter, so both share one count.
    """

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
        """TODO (Step 3): like RateLimiter.__init__, on ``redis_client.register_script``."""
        raise NotImplementedError("AsyncRateLimiter.__init__ is not implemented yet: see Step 3")

    async def hit(self, key: str, *, wait: float = 0.0) -> Decision:
        """TODO (Step 3): like RateLimiter.hit, awaiting the script and ``sleep``."""
        raise NotImplementedError("AsyncRateLimiter.hit is not implemented yet: see Step 3")

    def limit_for(self, key: str) -> int:
        """TODO (Step 3): the limit of ``key``, as RateLimiter.limit_for."""
        raise NotImplementedError("AsyncRateLimiter.limit_for is not implemented yet: see Step 3")

    def metrics(self) -> dict[str, int]:
        """TODO (Step 3): the counts, as RateLimiter.metrics."""
        raise NotImplementedError("AsyncRateLimiter.metrics is not implemented yet: see Step 3")


def rate_limited(
    limiter: RateLimiter | AsyncRateLimiter, key: Callable[..., str]
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """TODO (Step 6): a decorator: ``key(*args, **kwargs)`` names the limiter key; a
    refused call raises RateLimitExceeded and never runs; async functions need an
    AsyncRateLimiter."""
    raise NotImplementedError("rate_limited is not implemented yet: see Step 6")
