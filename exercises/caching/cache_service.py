"""A two-level cache-aside service: an in-process LRU in front of Redis.

This is your starting point for the caching tutorial
(``pytest_tutorial/tutorials/caching/tutorial.md``). The names, signatures, type hints and
docstrings are the contract the checks test; every body raises NotImplementedError and
says which step of the tutorial implements it. Replace the bodies, keep the signatures.
Check your progress from the repository root with ``pytest --tutorial=caching``.

TODO: as you implement each piece, replace the TODO notes in its docstring with a
description of what your code does: the documentation check counts a docstring that
still says TODO as missing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeAlias, TypeVar

import redis

__all__ = ["CacheService", "JSONValue", "monitor"]

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

P = ParamSpec("P")
R = TypeVar("R")
logger = logging.getLogger("cache_service")
MAX_KEY_LENGTH = 200


def monitor(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate ``func`` to log each call's duration in milliseconds (Step 6).

    TODO: time each call with ``time.perf_counter()``. On success log at INFO on
    ``logger`` a message with ``func.__qualname__`` and the duration in ms. When ``func``
    raises, log at ERROR with the duration and the exception, then re-raise it. Use
    ``functools.wraps`` so the name and docstring are preserved.

    Until then this stub returns ``func`` unchanged and logs nothing, so the methods it
    decorates (``get_or_compute``) can be written and tried before it.
    """
    return func


class CacheService:
    """Cache-aside over two levels: a bounded, short-lived local LRU, then Redis.

    TODO: make it thread-safe. One lock guards the LRU, the counters and a table of
    per-key locks; Redis I/O and ``compute`` never run under that lock.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        namespace: str = "cache",
        ttl_seconds: int = 300,
        local_max_entries: int = 256,
        local_ttl_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Store the settings (Step 1).

        TODO: raise ValueError when ``namespace`` is empty or contains ':' or whitespace,
        ``ttl_seconds < 1``, ``local_max_entries < 1`` or ``local_ttl_seconds <= 0``; then
        create the local LRU (an ``OrderedDict``), the locks and the counters (Steps 3, 4, 6).
        """
        self._redis = redis_client
        self._namespace = namespace
        self._ttl_seconds = ttl_seconds
        self._local_max_entries = local_max_entries
        self._local_ttl_seconds = local_ttl_seconds
        self._clock = clock

    def redis_key(self, key: str) -> str:
        """Return ``"<namespace>:<key>"``; ValueError unless ``key`` is a valid key (Step 1).

        TODO: a valid key is a str of 1 to 200 printable characters, none of them whitespace
        (``str.isprintable()``, ``str.isspace()``). Non-str keys raise ValueError too.
        """
        raise NotImplementedError("redis_key is not implemented yet: see Step 1 of the tutorial")

    @monitor
    def get_or_compute(self, key: str, compute: Callable[[], JSONValue]) -> JSONValue:
        """Return the value cached under ``key``, calling ``compute`` only on a miss (Step 2).

        TODO: local LRU hit (Step 4) -> return it without any Redis command; else Redis
        ``GET`` -> decode the JSON, keep it locally, return it; else call ``compute()``,
        ``SET`` the JSON with ``ex=ttl_seconds``, keep it locally and return it. Concurrent
        callers of one key compute once (Step 3). Exceptions from ``compute`` propagate and
        nothing is cached; Redis errors are survived (Step 6).
        """
        raise NotImplementedError(
            "get_or_compute is not implemented yet: see Step 2 of the tutorial"
        )

    def get(self, key: str) -> JSONValue | None:
        """Return the value cached under ``key`` (local LRU, then Redis), or None (Step 2).

        TODO: count hits and misses like ``get_or_compute``, but never compute anything.
        """
        raise NotImplementedError("get is not implemented yet: see Step 2 of the tutorial")

    def set(self, key: str, value: JSONValue) -> None:
        """Store ``value`` in Redis (with the TTL) and locally (Step 2).

        TODO: ValueError, before anything is stored, when ``value`` is not a JSON value
        (``json.dumps(value, allow_nan=False)`` fails, or it does not round-trip).
        """
        raise NotImplementedError("set is not implemented yet: see Step 2 of the tutorial")

    def invalidate(self, key: str) -> bool:
        """Drop ``key`` from Redis and the local LRU; True when Redis held it (Step 4).

        TODO: when Redis fails, still drop the local copy and return False (Step 6).
        """
        raise NotImplementedError("invalidate is not implemented yet: see Step 4 of the tutorial")

    def stats(self) -> dict[str, int]:
        """Return a snapshot of the counters (Step 6).

        TODO: exactly the keys ``local_hits``, ``redis_hits``, ``misses``, ``redis_errors``.
        """
        raise NotImplementedError("stats is not implemented yet: see Step 6 of the tutorial")
