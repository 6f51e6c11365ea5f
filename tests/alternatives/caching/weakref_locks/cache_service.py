"""A two-level cache-aside service with a self-cleaning table of per-key locks.

The local level is a ``cachetools.TLRUCache`` (time-aware LRU: expired entries go first,
then the least recently used) of JSON text. Each key in flight has its own lock in a
``weakref.WeakValueDictionary``: the entry disappears by itself when the last caller
holding or waiting for the lock lets go, so no reference counting is needed. ``monitor``
times calls with a ``contextlib.ContextDecorator``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import ParamSpec, TypeAlias, TypeVar

import redis
from cachetools import TLRUCache

__all__ = ["CacheService", "JSONValue", "monitor"]

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

P = ParamSpec("P")
R = TypeVar("R")
logger = logging.getLogger("cache_service")
COUNTERS = ("local_hits", "redis_hits", "misses", "redis_errors")


class _Timed(contextlib.ContextDecorator):
    """Logs how long the decorated call took, in ms, under the name it was given."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._started = threading.local()

    def __enter__(self) -> None:
        starts: list[float] = self._started.__dict__.setdefault("stack", [])
        starts.append(time.perf_counter())  # a stack: compute() may call a timed method too

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        elapsed_ms = (time.perf_counter() - self._started.stack.pop()) * 1000.0
        if error is None:
            logger.info("%s: %.3f ms", self._label, elapsed_ms)
        else:
            logger.error("%s: failed with %r after %.3f ms", self._label, error, elapsed_ms)


def monitor(func: Callable[P, R]) -> Callable[P, R]:
    """Return ``func`` decorated to log every call's duration in milliseconds.

    INFO when the call returns; ERROR, naming the exception, when it raises (the exception
    still propagates). The name and docstring of ``func`` are kept.
    """
    timed: Callable[P, R] = _Timed(func.__qualname__)(func)
    return timed


def _is_valid_key(key: object) -> bool:
    """Whether ``key`` is a str of 1 to 200 printable characters without whitespace."""
    if not isinstance(key, str) or len(key) not in range(1, 201):
        return False
    return key.isprintable() and key.split() == [key]


def _as_json(value: object) -> str:
    """The JSON text of ``value``; ValueError when JSON cannot hold it or would change it."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot cache a value that is not JSON: {exc}") from exc
    if json.loads(text) != value:
        raise ValueError("JSON would change this value (a tuple, or a key that is not a str)")
    return text


class CacheService:
    """A thread-safe cache-aside service: an in-process TLRU of JSON text, then Redis.

    ``_guard`` protects the TLRU, the counters and the lock table, and is released before
    Redis is called or anything is computed.
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
        """Check the settings, raising ValueError for one that is out of range, and keep them.

        ``redis_client`` is not contacted; ``clock`` times the local entries.
        """
        if not _is_valid_key(namespace) or ":" in namespace:
            raise ValueError(f"namespace must be a key without ':', got {namespace!r}")
        if not isinstance(ttl_seconds, int) or not ttl_seconds >= 1:
            raise ValueError(f"ttl_seconds must be an int, at least 1: {ttl_seconds!r}")
        if not local_max_entries >= 1:
            raise ValueError(f"local_max_entries must be at least 1: {local_max_entries!r}")
        if not local_ttl_seconds > 0:
            raise ValueError(f"local_ttl_seconds must be more than 0: {local_ttl_seconds!r}")
        self._redis = redis_client
        self._namespace = namespace
        self._ttl_seconds = ttl_seconds
        lifetime = float(local_ttl_seconds)
        self._local: TLRUCache[str, str] = TLRUCache(
            maxsize=local_max_entries, ttu=lambda _key, _text, now: now + lifetime, timer=clock
        )
        self._guard = threading.Lock()
        self._key_locks: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._counters = dict.fromkeys(COUNTERS, 0)

    def redis_key(self, key: str) -> str:
        """Return ``"<namespace>:<key>"`` for a valid ``key``, or raise ValueError.

        A valid key is a str of 1 to 200 printable characters, none of them whitespace.
        """
        if not _is_valid_key(key):
            raise ValueError(f"not a valid cache key: {key!r:.60}")
        return f"{self._namespace}:{key}"

    @monitor
    def get_or_compute(self, key: str, compute: Callable[[], JSONValue]) -> JSONValue:
        """Return the value cached under ``key``; call ``compute`` only if neither level has it.

        Callers of one missing key take turns on that key's lock, so one computes and the
        others find its value. Exceptions from ``compute`` propagate; nothing is cached.
        """
        name = self.redis_key(key)
        text = self._from_local(key)
        if text is None:
            with self._guard:
                lock = self._key_locks.get(key)
                if lock is None:
                    lock = self._key_locks[key] = threading.Lock()
            with lock:
                text = self._from_local(key) or self._from_redis(key, name)
                if text is None:
                    self._add("misses")
                    value = compute()
                    self._store(key, name, _as_json(value))
                    return value
        found: JSONValue = json.loads(text)
        return found

    def get(self, key: str) -> JSONValue | None:
        """Return the value cached under ``key`` in either level, or None when there is none."""
        name = self.redis_key(key)
        text = self._from_local(key) or self._from_redis(key, name)
        if text is None:
            self._add("misses")
            return None
        found: JSONValue = json.loads(text)
        return found

    def set(self, key: str, value: JSONValue) -> None:
        """Cache ``value`` under ``key`` in Redis, with the TTL, and in the local level.

        ValueError, before anything is written, when ``value`` is not exactly JSON.
        """
        self._store(key, self.redis_key(key), _as_json(value))

    def invalidate(self, key: str) -> bool:
        """Remove ``key`` from Redis and from the local level; True if Redis had it."""
        name = self.redis_key(key)
        try:
            had_it = self._redis.delete(name) > 0
        except redis.RedisError as exc:
            self._failed("DEL", name, exc)
            had_it = False
        with self._guard:
            self._local.pop(key, None)
        return had_it

    def stats(self) -> dict[str, int]:
        """Return a copy of the counters: local_hits, redis_hits, misses, redis_errors."""
        with self._guard:
            return dict(self._counters)

    def _add(self, counter: str) -> None:
        with self._guard:
            self._counters[counter] += 1

    def _failed(self, command: str, name: str, exc: redis.RedisError) -> None:
        self._add("redis_errors")
        logger.warning("Redis %s for %s failed, going on without it: %r", command, name, exc)

    def _from_local(self, key: str) -> str | None:
        with self._guard:
            text = self._local.get(key)
            if text is not None:
                self._counters["local_hits"] += 1
            return text

    def _from_redis(self, key: str, name: str) -> str | None:
        try:
            raw = self._redis.get(name)
        except redis.RedisError as exc:
            self._failed("GET", name, exc)
            return None
        if raw is None:
            return None
        try:
            text = raw.decode() if isinstance(raw, bytes) else str(raw)
            json.loads(text)
        except ValueError:
            logger.warning("%s does not hold JSON; treating it as a miss", name)
            return None
        with self._guard:
            self._local[key] = text
            self._counters["redis_hits"] += 1
        return text

    def _store(self, key: str, name: str, text: str) -> None:
        try:
            self._redis.set(name, text, ex=self._ttl_seconds)
        except redis.RedisError as exc:
            self._failed("SET", name, exc)
        with self._guard:
            self._local[key] = text
