"""A two-level cache-aside service: a plain-dict LRU of decoded values, then Redis.

The local level keeps decoded values in a ``dict`` whose insertion order is the recency
order (a hit pops and re-inserts its key; eviction drops the first key), and hands out deep
copies. Concurrent misses of one key are coalesced with a ``threading.Event`` per key in
flight: followers wait for it, then look again. Redis holds JSON text under
``<namespace>:<key>``, written with ``SET ... PX`` (milliseconds).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeAlias, TypeVar

import redis

__all__ = ["CacheService", "JSONValue", "monitor"]

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

P = ParamSpec("P")
R = TypeVar("R")
logger = logging.getLogger("cache_service")


def monitor(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate ``func`` to log how long each call took, in milliseconds.

    INFO after a call that returned, ERROR (naming the exception) after one that raised;
    the exception is re-raised untouched and ``func``'s name and docstring are kept.
    """
    label = func.__qualname__

    @functools.wraps(func)
    def logged(*args: P.args, **kwargs: P.kwargs) -> R:
        began = time.perf_counter()
        failed = True
        try:
            result = func(*args, **kwargs)
            failed = False
            return result
        finally:
            elapsed = (time.perf_counter() - began) * 1e3
            if failed:
                logger.error("%s failed in %.3f ms", label, elapsed, exc_info=True)
            else:
                logger.info("%s ran in %.3f ms", label, elapsed)

    return logged


@dataclass(frozen=True, slots=True)
class _Entry:
    """A decoded value in the local level and the clock reading at which it goes stale."""

    value: JSONValue
    stale_at: float


@dataclass(slots=True)
class _Found:
    """A value found in one of the two levels (``None`` is a value like any other)."""

    value: JSONValue


def _check_key(key: object) -> str:
    """Return ``key`` when it is 1 to 200 printable, non-whitespace characters; else ValueError."""
    if not isinstance(key, str) or not 1 <= len(key) <= 200:
        raise ValueError(f"a cache key is a str of 1 to 200 characters, got {key!r:.60}")
    if not key.isprintable() or any(char.isspace() for char in key):
        raise ValueError(f"a cache key has no whitespace or control characters: {key!r:.60}")
    return key


def _to_json(value: object) -> str:
    """Return ``value`` as JSON text; ValueError if JSON cannot hold it exactly."""
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot store {type(value).__name__} as JSON: {error}") from error
    if json.loads(text) != value:
        raise ValueError("JSON would not give this value back (tuples, non-str keys)")
    return text


class CacheService:
    """Cache-aside over a short-lived in-process LRU and a shared Redis, safe across threads.

    ``_mutex`` guards the local dict, the counters and the table of keys in flight; it is
    never held while Redis is called or a value is computed.
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
        """Keep the settings after checking them: ValueError names the first bad one.

        The ``redis_client`` is only stored; nothing is sent to Redis here.
        """
        _check_key(namespace)
        if ":" in namespace:
            raise ValueError(f"namespace may not contain ':', got {namespace!r}")
        if type(ttl_seconds) is not int or ttl_seconds < 1:
            raise ValueError(f"ttl_seconds must be a whole number of seconds >= 1: {ttl_seconds}")
        if not local_max_entries >= 1:
            raise ValueError(f"local_max_entries must be at least 1: {local_max_entries}")
        if not local_ttl_seconds > 0:
            raise ValueError(f"local_ttl_seconds must be above 0: {local_ttl_seconds}")
        self._redis = redis_client
        self._namespace = namespace
        self._ttl_ms = ttl_seconds * 1000
        self._capacity = local_max_entries
        self._local_ttl = local_ttl_seconds
        self._clock = clock
        self._mutex = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._in_flight: dict[str, threading.Event] = {}
        self._local_hits = self._redis_hits = self._misses = self._redis_errors = 0

    def redis_key(self, key: str) -> str:
        """Return ``key`` prefixed with the namespace and a colon, after validating it.

        ValueError unless ``key`` is a str of 1 to 200 printable, non-whitespace characters.
        """
        return f"{self._namespace}:{_check_key(key)}"

    @monitor
    def get_or_compute(self, key: str, compute: Callable[[], JSONValue]) -> JSONValue:
        """Return the cached value of ``key``; on a miss call ``compute`` once and cache it.

        Concurrent callers of a missing key wait for the one computing it. Exceptions from
        ``compute`` reach the caller and leave nothing cached.
        """
        name = self.redis_key(key)
        while True:
            found = self._find(key, name)
            if found is not None:
                return found.value
            with self._mutex:
                waiting_on = self._in_flight.get(key)
                if waiting_on is None:
                    done = self._in_flight[key] = threading.Event()
            if waiting_on is not None:
                waiting_on.wait()
                continue
            try:
                found = self._find(key, name)
                if found is not None:
                    return found.value
                with self._mutex:
                    self._misses += 1
                value = compute()
                self._save(key, name, value)
                return value
            finally:
                with self._mutex:
                    del self._in_flight[key]
                done.set()

    def get(self, key: str) -> JSONValue | None:
        """Return the value cached under ``key`` (locally, then in Redis), or None if absent."""
        found = self._find(key, self.redis_key(key))
        if found is None:
            with self._mutex:
                self._misses += 1
            return None
        return found.value

    def set(self, key: str, value: JSONValue) -> None:
        """Cache ``value`` under ``key`` in Redis (with the TTL) and in the local level.

        ValueError when ``value`` is not exactly representable as JSON; nothing is written.
        """
        self._save(key, self.redis_key(key), value)

    def invalidate(self, key: str) -> bool:
        """Delete ``key`` from Redis and from the local level; True if Redis had it."""
        name = self.redis_key(key)
        try:
            existed = self._redis.delete(name) == 1
        except redis.RedisError as error:
            self._redis_failed("DEL", name, error)
            existed = False
        with self._mutex:
            self._entries.pop(key, None)
        return existed

    def stats(self) -> dict[str, int]:
        """Return the counters so far: local_hits, redis_hits, misses and redis_errors."""
        with self._mutex:
            return {
                "local_hits": self._local_hits,
                "redis_hits": self._redis_hits,
                "misses": self._misses,
                "redis_errors": self._redis_errors,
            }

    def _redis_failed(self, command: str, name: str, error: redis.RedisError) -> None:
        with self._mutex:
            self._redis_errors += 1
        logger.warning("%s %s failed, continuing without Redis: %s", command, name, error)

    def _find(self, key: str, name: str) -> _Found | None:
        with self._mutex:
            entry = self._entries.pop(key, None)
            if entry is not None and self._clock() < entry.stale_at:
                self._entries[key] = entry  # re-inserted: now the most recently used
                self._local_hits += 1
                return _Found(copy.deepcopy(entry.value))
        try:
            raw = self._redis.get(name)
        except redis.RedisError as error:
            self._redis_failed("GET", name, error)
            return None
        if raw is None:
            return None
        try:
            value: JSONValue = json.loads(raw)
        except ValueError:
            logger.warning("%s holds something that is not JSON; ignoring it", name)
            return None
        self._keep(key, value)
        with self._mutex:
            self._redis_hits += 1
        return _Found(value)

    def _save(self, key: str, name: str, value: JSONValue) -> None:
        text = _to_json(value)
        try:
            self._redis.set(name, text, px=self._ttl_ms)
        except redis.RedisError as error:
            self._redis_failed("SET", name, error)
        self._keep(key, json.loads(text))

    def _keep(self, key: str, value: JSONValue) -> None:
        entry = _Entry(copy.deepcopy(value), self._clock() + self._local_ttl)
        with self._mutex:
            self._entries.pop(key, None)
            self._entries[key] = entry
            while len(self._entries) > self._capacity:
                del self._entries[next(iter(self._entries))]
