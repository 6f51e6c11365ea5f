"""Known-bad ``cache_service`` implementations for the caching tutorial.

:class:`NaiveCacheService` is a deliberately simple implementation of the tutorial's API
(a dict-based LRU, one plain lock, a lock per key that is never cleaned up). With its
default flags it behaves like the contract asks; each flag switches on one classic bug:

- ``store_values=False``: nothing is ever stored, so every call recomputes and ``get``
  always returns None;
- ``set_ttl=False``: values are written to Redis without an expiry.

:data:`KNOWN_BUGS` declares them. The harness builds one self-contained ``cache_service.py``
per bug from this source (:mod:`pytest_tutorial.known_bugs`), and the correct one with the
defaults, and runs the learner's own tests against each, which must catch every bug.
Everything else is correct, so a test only catches these by testing that bug. The hidden
bugs are mutants of the correct build (``hidden_bugs.json``).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeAlias, TypeVar

import redis
from redis.exceptions import RedisError

__all__ = ["JSONValue", "NaiveCacheService", "monitor"]

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

P = ParamSpec("P")
R = TypeVar("R")
logger = logging.getLogger("cache_service")
_MISSING = object()

KNOWN_BUGS = {
    "recomputes_every_call": {
        "flags": {"store_values": False},
        "description": "stores nothing, so every call recomputes and get() returns None",
    },
    "drops_ttl": {
        "flags": {"set_ttl": False},
        "description": "writes values to Redis without a TTL, so they never expire",
    },
}
"""The known bugs: the flags that switch each on, and what it does (for messages)."""
PUBLIC_NAMES = {"NaiveCacheService": "CacheService"}
"""The contract's name of each class, in the modules built from this one."""


def monitor(func: Callable[P, R]) -> Callable[P, R]:
    """Log each call's duration in ms at INFO, or at ERROR with the exception (re-raised)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        start = time.perf_counter()
        try:
            result = func(*args, **kwargs)
        except Exception as exc:
            elapsed = (time.perf_counter() - start) * 1000
            logger.error("%s failed after %.3f ms: %r", func.__qualname__, elapsed, exc)
            raise
        elapsed = (time.perf_counter() - start) * 1000
        logger.info("%s took %.3f ms", func.__qualname__, elapsed)
        return result

    return wrapper


class NaiveCacheService:
    """The tutorial's cache service, simply written, with two switchable bugs."""

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        namespace: str = "cache",
        ttl_seconds: int = 300,
        local_max_entries: int = 256,
        local_ttl_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        store_values: bool = True,
        set_ttl: bool = True,
    ) -> None:
        """Check the settings like the reference does; ``store_values``/``set_ttl`` are bugs."""
        if not _valid(namespace) or ":" in namespace:
            raise ValueError(f"namespace must be non-empty, without ':' or spaces: {namespace!r}")
        if ttl_seconds < 1 or local_max_entries < 1 or local_ttl_seconds <= 0:
            raise ValueError("ttl_seconds and local_max_entries must be >= 1, local TTL > 0")
        self.redis = redis_client
        self.namespace = namespace
        self.ttl_seconds = ttl_seconds
        self.local_max_entries = local_max_entries
        self.local_ttl_seconds = local_ttl_seconds
        self.clock = clock
        self.store_values = store_values
        self.set_ttl = set_ttl
        self.lock = threading.Lock()
        self.local: dict[str, tuple[float, str]] = {}
        self.key_locks: dict[str, threading.Lock] = {}
        self.counters = dict.fromkeys(("local_hits", "redis_hits", "misses", "redis_errors"), 0)

    def redis_key(self, key: str) -> str:
        """Return ``namespace:key``; ValueError for a bad key."""
        if not _valid(key) or len(key) > 200:
            raise ValueError(f"invalid cache key: {key!r:.60}")
        return f"{self.namespace}:{key}"

    @monitor
    def get_or_compute(self, key: str, compute: Callable[[], JSONValue]) -> JSONValue:
        """Local, then Redis, then ``compute()`` under the key's lock."""
        name = self.redis_key(key)
        with self.lock:
            key_lock = self.key_locks.setdefault(key, threading.Lock())
        with key_lock:
            found = self._lookup(key, name)
            if found is not _MISSING:
                return found  # type: ignore[return-value]
            self._count("misses")
            value = compute()
            self._store(key, name, _encode(value))
            return value

    def get(self, key: str) -> JSONValue | None:
        """Local, then Redis; None when absent."""
        found = self._lookup(key, self.redis_key(key))
        if found is _MISSING:
            self._count("misses")
            return None
        return found  # type: ignore[return-value]

    def set(self, key: str, value: JSONValue) -> None:
        """Write Redis and the local cache."""
        self._store(key, self.redis_key(key), _encode(value))

    def invalidate(self, key: str) -> bool:
        """Drop the key locally and in Redis; True when Redis held it."""
        name = self.redis_key(key)
        with self.lock:
            self.local.pop(key, None)
        try:
            return bool(self.redis.delete(name))
        except RedisError as exc:
            self._failed(exc)
            return False

    def stats(self) -> dict[str, int]:
        """Return a copy of the counters."""
        with self.lock:
            return dict(self.counters)

    def _count(self, name: str) -> None:
        with self.lock:
            self.counters[name] += 1

    def _failed(self, exc: RedisError) -> None:
        self._count("redis_errors")
        logger.warning("redis failed: %r", exc)

    def _lookup(self, key: str, name: str) -> object:
        if not self.store_values:
            return _MISSING
        with self.lock:
            entry = self.local.pop(key, None)
            if entry is not None and self.clock() < entry[0]:
                self.local[key] = entry  # re-inserted last: most recently used
                self.counters["local_hits"] += 1
                return json.loads(entry[1])
        try:
            raw = self.redis.get(name)
        except RedisError as exc:
            self._failed(exc)
            return _MISSING
        if raw is None:
            return _MISSING
        payload = raw.decode() if isinstance(raw, bytes) else str(raw)
        self._put_local(key, payload)
        self._count("redis_hits")
        return json.loads(payload)

    def _store(self, key: str, name: str, payload: str) -> None:
        if not self.store_values:
            return
        try:
            self.redis.set(name, payload, ex=self.ttl_seconds if self.set_ttl else None)
        except RedisError as exc:
            self._failed(exc)
        self._put_local(key, payload)

    def _put_local(self, key: str, payload: str) -> None:
        with self.lock:
            self.local.pop(key, None)
            self.local[key] = (self.clock() + self.local_ttl_seconds, payload)
            while len(self.local) > self.local_max_entries:
                del self.local[next(iter(self.local))]


def _valid(text: object) -> bool:
    """A non-empty str of printable characters without whitespace."""
    return (
        isinstance(text, str)
        and text != ""
        and text.isprintable()
        and not any(c.isspace() for c in text)
    )


def _encode(value: JSONValue) -> str:
    """JSON text for ``value``; ValueError when it is not a plain JSON value."""
    try:
        payload = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"value is not JSON-serialisable: {exc}") from exc
    if json.loads(payload) != value:
        raise ValueError("value does not survive a JSON round trip")
    return payload
