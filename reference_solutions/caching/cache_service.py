"""A two-level cache-aside service: an in-process LRU in front of Redis.

JSON values live in Redis under ``<namespace>:<key>`` with a TTL; misses compute once per key
(single-flight); Redis failures are counted, logged and survived, never raised.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeAlias, TypeVar

import redis
from redis.exceptions import RedisError

__all__ = ["CacheService", "JSONValue", "monitor"]

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

P = ParamSpec("P")
R = TypeVar("R")
logger = logging.getLogger("cache_service")
MAX_KEY_LENGTH = 200


def monitor(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``func`` to log each call's duration in ms: INFO on success, ERROR on failure.

    Exceptions are re-raised unchanged; name and docstring are kept (``functools.wraps``).
    """
    name = func.__qualname__

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        start = time.perf_counter()
        try:
            result = func(*args, **kwargs)
        except Exception as exc:
            elapsed_ms = (time.perf_counter() - start) * 1000
            logger.error("%s failed after %.3f ms: %r", name, elapsed_ms, exc)
            raise
        logger.info("%s took %.3f ms", name, (time.perf_counter() - start) * 1000)
        return result

    return wrapper


class _Miss(enum.Enum):
    """Sentinel for "not cached": ``None`` is a valid cached value."""

    MISS = enum.auto()


def _is_token(text: object) -> bool:
    """True for a non-empty str of printable characters, none of them whitespace."""
    if not isinstance(text, str) or not text:
        return False
    return text.isprintable() and not any(c.isspace() for c in text)


def _encode(value: JSONValue) -> str:
    """Serialise ``value``; ValueError unless it round-trips to an equal plain value."""
    try:
        payload = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"value is not JSON-serialisable: {exc}") from exc
    if json.loads(payload) != value:
        raise ValueError("value does not survive a JSON round trip (tuple? non-str dict key?)")
    return payload


class CacheService:
    """Cache-aside over two levels: a bounded, short-lived local LRU, then Redis.

    Thread-safe. One lock guards the LRU, the counters and the table of per-key locks;
    Redis I/O and ``compute`` never run under it, so unrelated keys never wait for each other.
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
        """Validate the settings (ValueError when one is out of range); no I/O happens here."""
        if not _is_token(namespace) or ":" in namespace:
            raise ValueError(f"namespace must be non-empty, without ':' or spaces: {namespace!r}")
        if not isinstance(ttl_seconds, int) or ttl_seconds < 1:
            raise ValueError(f"ttl_seconds must be an int >= 1, got {ttl_seconds!r}")
        if local_max_entries < 1:
            raise ValueError(f"local_max_entries must be >= 1, got {local_max_entries!r}")
        if not local_ttl_seconds > 0:
            raise ValueError(f"local_ttl_seconds must be > 0, got {local_ttl_seconds!r}")
        self._redis = redis_client
        self._namespace = namespace
        self._ttl_seconds = ttl_seconds
        self._local_max_entries = local_max_entries
        self._local_ttl_seconds = local_ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._local: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._flight_locks: dict[str, threading.Lock] = {}
        self._flight_users: Counter[str] = Counter()
        self._stats = dict.fromkeys(("local_hits", "redis_hits", "misses", "redis_errors"), 0)

    def redis_key(self, key: str) -> str:
        """Return ``"<namespace>:<key>"``; ValueError unless ``key`` is a valid key.

        A valid key is a str of 1 to 200 printable characters, none of them whitespace.
        """
        if not _is_token(key) or len(key) > MAX_KEY_LENGTH:
            raise ValueError(f"keys are 1-200 printable, non-space characters: {key!r:.60}")
        return f"{self._namespace}:{key}"

    @monitor
    def get_or_compute(self, key: str, compute: Callable[[], JSONValue]) -> JSONValue:
        """Return the value cached under ``key``, calling ``compute`` only on a miss.

        Looks in the local LRU, then Redis; on a miss one caller per key runs ``compute()``
        and stores the result in Redis (with the TTL) and locally. Exceptions from
        ``compute`` propagate and nothing is cached; a non-JSON result raises ValueError.
        """
        name = self.redis_key(key)
        found = self._local_get(key)
        if not isinstance(found, _Miss):
            return found
        with self._single_flight(key):
            found = self._lookup(key, name)  # the caller we waited for may have filled it
            if not isinstance(found, _Miss):
                return found
            self._count("misses")
            value = compute()
            self._store(key, name, _encode(value))
            return value

    def get(self, key: str) -> JSONValue | None:
        """Return the value cached under ``key`` (local LRU, then Redis), or None."""
        found = self._lookup(key, self.redis_key(key))
        if isinstance(found, _Miss):
            self._count("misses")
            return None
        return found

    def set(self, key: str, value: JSONValue) -> None:
        """Store ``value`` in Redis (with the TTL) and locally; ValueError if it is not JSON."""
        self._store(key, self.redis_key(key), _encode(value))

    def invalidate(self, key: str) -> bool:
        """Drop ``key`` from Redis and the local LRU; True when Redis held it."""
        name = self.redis_key(key)
        try:
            deleted = bool(self._redis.delete(name))
        except RedisError as exc:
            self._redis_failed("DEL", name, exc)
            deleted = False
        with self._lock:
            self._local.pop(key, None)
        return deleted

    def stats(self) -> dict[str, int]:
        """Return a snapshot of local_hits, redis_hits, misses and (survived) redis_errors."""
        with self._lock:
            return dict(self._stats)

    def _count(self, stat: str) -> None:
        with self._lock:
            self._stats[stat] += 1

    def _redis_failed(self, command: str, name: str, exc: RedisError) -> None:
        self._count("redis_errors")
        logger.warning("redis %s %s failed, serving without Redis: %r", command, name, exc)

    def _lookup(self, key: str, name: str) -> JSONValue | _Miss:
        found = self._local_get(key)
        return self._redis_get(key, name) if isinstance(found, _Miss) else found

    def _local_get(self, key: str) -> JSONValue | _Miss:
        with self._lock:
            entry = self._local.get(key)
            if entry is None or self._clock() >= entry[0]:  # absent or expired
                self._local.pop(key, None)
                return _Miss.MISS
            self._local.move_to_end(key)
            self._stats["local_hits"] += 1
        value: JSONValue = json.loads(entry[1])  # a fresh copy: callers may mutate it
        return value

    def _local_put(self, key: str, payload: str) -> None:
        with self._lock:
            self._local[key] = (self._clock() + self._local_ttl_seconds, payload)
            self._local.move_to_end(key)
            while len(self._local) > self._local_max_entries:
                self._local.popitem(last=False)

    def _redis_get(self, key: str, name: str) -> JSONValue | _Miss:
        try:
            raw = self._redis.get(name)
        except RedisError as exc:
            self._redis_failed("GET", name, exc)
            raw = None
        if raw is None:
            return _Miss.MISS
        try:
            payload = raw.decode() if isinstance(raw, bytes) else str(raw)
            value: JSONValue = json.loads(payload)
        except ValueError:
            logger.warning("ignoring a value under %s that is not JSON", name)
            return _Miss.MISS
        self._local_put(key, payload)
        self._count("redis_hits")
        return value

    def _store(self, key: str, name: str, payload: str) -> None:
        try:
            self._redis.set(name, payload, ex=self._ttl_seconds)
        except RedisError as exc:
            self._redis_failed("SET", name, exc)
        self._local_put(key, payload)

    @contextmanager
    def _single_flight(self, key: str) -> Iterator[None]:
        """Hold ``key``'s own lock; it is dropped when its last user leaves."""
        with self._lock:
            lock = self._flight_locks.setdefault(key, threading.Lock())
            self._flight_users[key] += 1
        try:
            with lock:
                yield
        finally:
            with self._lock:
                self._flight_users[key] -= 1
                if not self._flight_users[key]:
                    del self._flight_users[key], self._flight_locks[key]
