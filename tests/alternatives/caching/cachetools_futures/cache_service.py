"""A two-level cache-aside service built on cachetools and futures.

The local level is a ``cachetools.TTLCache`` (least recently used eviction with a
per-entry time to live, on the injected clock) guarded by one re-entrant lock. Concurrent
misses of one key share a ``concurrent.futures.Future``: the first caller computes, the
others wait for it and then read the cache again. Redis holds compact, key-sorted JSON as
bytes, written with a ``timedelta`` expiry.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from datetime import timedelta
from typing import ParamSpec, TypeAlias, TypeVar

import redis
from cachetools import TTLCache

__all__ = ["CacheService", "JSONValue", "monitor"]

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

P = ParamSpec("P")
R = TypeVar("R")
logger = logging.getLogger("cache_service")
STAT_NAMES = ("local_hits", "redis_hits", "misses", "redis_errors")
_NOT_FOUND = object()


def monitor(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``func`` so that every call logs its duration in milliseconds.

    Successful calls are logged at INFO, failing ones at ERROR with the exception, which is
    then re-raised unchanged.
    """

    @functools.wraps(func)
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        began = time.monotonic_ns()
        try:
            outcome = func(*args, **kwargs)
        except Exception as error:
            spent_ms = (time.monotonic_ns() - began) / 1e6
            logger.error("%s raised after %.2f ms: %s", func.__qualname__, spent_ms, error)
            raise
        spent_ms = (time.monotonic_ns() - began) / 1e6
        logger.info("%s finished in %.2f ms", func.__qualname__, spent_ms)
        return outcome

    return timed


def _serialise(value: object) -> bytes:
    """Encode ``value`` as compact JSON; ValueError unless it decodes back to an equal value."""
    try:
        text = json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"not a JSON value: {error}") from error
    if json.loads(text) != value:
        raise ValueError("the value changes in a JSON round trip (a tuple or a non-str key?)")
    return text.encode()


class CacheService:
    """Cache-aside through a local TTL-LRU (cachetools), then Redis; safe across threads."""

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
        """Check every setting and raise ValueError for one out of range, before any I/O.

        ``namespace`` is a non-empty word without ':'; ``ttl_seconds`` and
        ``local_max_entries`` are positive integers; ``local_ttl_seconds`` is positive.
        """
        if not isinstance(namespace, str) or not namespace or not namespace.isprintable():
            raise ValueError(f"bad namespace {namespace!r}")
        if ":" in namespace or any(char.isspace() for char in namespace):
            raise ValueError(f"a namespace has no ':' and no whitespace: {namespace!r}")
        if not isinstance(ttl_seconds, int) or ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be a positive int, not {ttl_seconds!r}")
        if local_max_entries <= 0:
            raise ValueError(f"local_max_entries must be positive, not {local_max_entries!r}")
        if local_ttl_seconds <= 0:
            raise ValueError(f"local_ttl_seconds must be positive, not {local_ttl_seconds!r}")
        self._redis = redis_client
        self._prefix = namespace + ":"
        self._expiry = timedelta(seconds=ttl_seconds)
        self._guard = threading.RLock()
        self._local: TTLCache[str, bytes] = TTLCache(
            maxsize=local_max_entries, ttl=local_ttl_seconds, timer=clock
        )
        self._pending: dict[str, Future[None]] = {}
        self._counts: Counter[str] = Counter(dict.fromkeys(STAT_NAMES, 0))

    def redis_key(self, key: str) -> str:
        """Return the Redis key of ``key``: the namespace, a colon, then the key itself.

        ValueError unless ``key`` is a str of 1 to 200 printable, non-whitespace characters.
        """
        valid = isinstance(key, str) and 0 < len(key) <= 200 and key.isprintable()
        if not valid or any(char.isspace() for char in key):
            raise ValueError(f"invalid cache key {key!r:.60}")
        return self._prefix + key

    @monitor
    def get_or_compute(self, key: str, compute: Callable[[], JSONValue]) -> JSONValue:
        """Return the value cached under ``key``, running ``compute`` only when nothing is.

        One caller per key computes; the others wait for its future and read the cache
        again. A failing ``compute`` raises to its caller and caches nothing.
        """
        name = self.redis_key(key)
        while True:
            found = self._read(key, name)
            if found is not _NOT_FOUND:
                return found  # type: ignore[return-value]
            with self._guard:
                pending = self._pending.get(key)
                if pending is None:
                    pending = self._pending[key] = Future()
                    leader = True
                else:
                    leader = False
            if not leader:
                pending.result()
                continue
            try:
                found = self._read(key, name)  # filled between our miss and the election?
                if found is not _NOT_FOUND:
                    return found  # type: ignore[return-value]
                self._bump("misses")
                value = compute()
                self._write(key, name, _serialise(value))
                return value
            finally:
                with self._guard:
                    del self._pending[key]
                pending.set_result(None)

    def get(self, key: str) -> JSONValue | None:
        """Return the value cached under ``key`` locally or in Redis, or None; never computes."""
        found = self._read(key, self.redis_key(key))
        if found is _NOT_FOUND:
            self._bump("misses")
            return None
        return found  # type: ignore[return-value]

    def set(self, key: str, value: JSONValue) -> None:
        """Store ``value`` under ``key`` in Redis with the TTL and locally.

        ValueError, before anything is written, when ``value`` is not a JSON value.
        """
        name = self.redis_key(key)
        self._write(key, name, _serialise(value))

    def invalidate(self, key: str) -> bool:
        """Forget ``key`` in both levels; True when Redis still held a value for it."""
        name = self.redis_key(key)
        try:
            removed = self._redis.delete(name) > 0
        except redis.RedisError as error:
            self._redis_error("DEL", name, error)
            removed = False
        with self._guard:
            self._local.pop(key, None)
        return removed

    def stats(self) -> dict[str, int]:
        """Return a copy of the counters: local_hits, redis_hits, misses and redis_errors."""
        with self._guard:
            return {name: self._counts[name] for name in STAT_NAMES}

    def _bump(self, stat: str) -> None:
        with self._guard:
            self._counts[stat] += 1

    def _redis_error(self, command: str, name: str, error: redis.RedisError) -> None:
        self._bump("redis_errors")
        logger.warning("Redis %s of %s failed (%s); carrying on without it", command, name, error)

    def _read(self, key: str, name: str) -> object:
        with self._guard:
            payload = self._local.get(key)
            if payload is not None:
                self._counts["local_hits"] += 1
        if payload is not None:
            return json.loads(payload)
        try:
            raw = self._redis.get(name)
        except redis.RedisError as error:
            self._redis_error("GET", name, error)
            return _NOT_FOUND
        if raw is None:
            return _NOT_FOUND
        payload = raw if isinstance(raw, bytes) else str(raw).encode()
        try:
            value = json.loads(payload)
        except ValueError:
            logger.warning("the value under %s is not JSON; treating it as missing", name)
            return _NOT_FOUND
        with self._guard:
            self._local[key] = payload
            self._counts["redis_hits"] += 1
        return value

    def _write(self, key: str, name: str, payload: bytes) -> None:
        try:
            self._redis.set(name, payload, ex=self._expiry)
        except redis.RedisError as error:
            self._redis_error("SET", name, error)
        with self._guard:
            self._local[key] = payload
