"""A two-level cache-aside service: a cachetools LRU of JSON text in front of Redis.

Local entries are ``(expires_at, json_text)`` pairs in a ``cachetools.LRUCache`` whose
expiry is checked on read. Concurrent misses wait on one ``threading.Condition`` until the
key they need is no longer being computed. ``monitor`` is a ``wrapt`` decorator. Redis is
written with ``SETEX``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeAlias, TypeVar, cast

import redis
import wrapt
from cachetools import LRUCache

__all__ = ["CacheService", "JSONValue", "monitor"]

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

P = ParamSpec("P")
R = TypeVar("R")
logger = logging.getLogger("cache_service")
KEY_LIMIT = 200


@wrapt.decorator
def _log_duration(
    wrapped: Callable[..., Any], instance: object, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Call ``wrapped`` with ``args`` and ``kwargs``, logging its duration in ms."""
    start = time.perf_counter_ns()
    try:
        result = wrapped(*args, **kwargs)
    except Exception as exc:
        took = (time.perf_counter_ns() - start) / 1_000_000
        logger.error("%s raised %r after %.3f ms", wrapped.__qualname__, exc, took)
        raise
    took = (time.perf_counter_ns() - start) / 1_000_000
    logger.info("%s returned after %.3f ms", wrapped.__qualname__, took)
    return result


def monitor(func: Callable[P, R]) -> Callable[P, R]:
    """Return ``func`` wrapped so that each call logs its duration in milliseconds.

    The log line goes to INFO on success and to ERROR (with the exception) on failure; the
    exception propagates. The wrapper keeps ``func``'s name, docstring and signature.
    """
    return cast("Callable[P, R]", _log_duration(func))


@dataclasses.dataclass
class _Counters:
    """How reads ended, and how many Redis commands failed."""

    local_hits: int = 0
    redis_hits: int = 0
    misses: int = 0
    redis_errors: int = 0


def _valid_key(key: object) -> bool:
    """True when ``key`` is a str of 1 to KEY_LIMIT printable, non-whitespace characters."""
    return (
        isinstance(key, str)
        and 0 < len(key) <= KEY_LIMIT
        and key.isprintable()
        and not any(character.isspace() for character in key)
    )


def _dump(value: object) -> str:
    """Return ``value`` as JSON text; ValueError unless the text decodes to an equal value."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"value is not JSON: {exc}") from exc
    if json.loads(text) != value:
        raise ValueError("value would change through JSON (tuple? non-str dict key?)")
    return text


class CacheService:
    """Cache-aside through an in-process LRU with expiry, then Redis; thread-safe.

    One condition variable guards the LRU, the counters and the set of keys being computed;
    waiting callers sleep on it, and nothing slow runs while it is held.
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
        """Validate and keep the settings; ValueError for a bad one, no I/O with the client.

        ``namespace`` prefixes every Redis key, ``ttl_seconds`` is the Redis expiry,
        ``local_max_entries`` and ``local_ttl_seconds`` bound the local LRU, read on ``clock``.
        """
        if not _valid_key(namespace) or ":" in namespace:
            raise ValueError(f"namespace must be a word without ':' or spaces, got {namespace!r}")
        if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds < 1:
            raise ValueError(f"ttl_seconds must be an int of at least 1, got {ttl_seconds!r}")
        if local_max_entries < 1:
            raise ValueError(f"local_max_entries must be at least 1, got {local_max_entries!r}")
        if local_ttl_seconds <= 0:
            raise ValueError(f"local_ttl_seconds must be positive, got {local_ttl_seconds!r}")
        self._client = redis_client
        self._namespace = namespace
        self._ttl_seconds = ttl_seconds
        self._local_ttl_seconds = local_ttl_seconds
        self._now = clock
        self._changed = threading.Condition()
        self._lru: LRUCache[str, tuple[float, str]] = LRUCache(maxsize=local_max_entries)
        self._computing: set[str] = set()
        self._counters = _Counters()

    def redis_key(self, key: str) -> str:
        """Return the Redis key for ``key``, ``"<namespace>:<key>"``, once ``key`` is valid.

        Raises ValueError unless ``key`` is a str of 1 to 200 printable, non-space characters.
        """
        if not _valid_key(key):
            raise ValueError(f"cache keys are 1-200 printable, non-space characters: {key!r:.60}")
        return f"{self._namespace}:{key}"

    @monitor
    def get_or_compute(self, key: str, compute: Callable[[], JSONValue]) -> JSONValue:
        """Return the value of ``key`` from the cache, or from ``compute`` on a miss.

        Only one caller per key runs ``compute``; the rest wait and then read what it
        stored. If ``compute`` raises, the error propagates and nothing is cached.
        """
        name = self.redis_key(key)
        text = self._local_text(key)
        if text is not None:
            return cast("JSONValue", json.loads(text))
        with self._computing_key(key):
            text = self._fetch(key, name)
            if text is not None:
                return cast("JSONValue", json.loads(text))
            self._tally("misses")
            value = compute()
            self._put(key, name, _dump(value))
            return value

    def get(self, key: str) -> JSONValue | None:
        """Return the value stored for ``key`` (local LRU first, then Redis), or None."""
        text = self._fetch(key, self.redis_key(key))
        if text is None:
            self._tally("misses")
            return None
        return cast("JSONValue", json.loads(text))

    def set(self, key: str, value: JSONValue) -> None:
        """Write ``value`` for ``key`` to Redis (expiring after ttl_seconds) and locally.

        Raises ValueError, writing nothing, if ``value`` cannot be stored as JSON exactly.
        """
        self._put(key, self.redis_key(key), _dump(value))

    def invalidate(self, key: str) -> bool:
        """Remove ``key`` from the local LRU and from Redis; True if Redis had a value."""
        name = self.redis_key(key)
        try:
            held = bool(self._client.delete(name))
        except redis.RedisError as exc:
            self._failed("DEL", name, exc)
            held = False
        with self._changed:
            self._lru.pop(key, None)
        return held

    def stats(self) -> dict[str, int]:
        """Return the counters as a new dict: local_hits, redis_hits, misses, redis_errors."""
        with self._changed:
            return dataclasses.asdict(self._counters)

    @contextmanager
    def _computing_key(self, key: str) -> Iterator[None]:
        """Wait until nobody computes ``key``, then mark it as ours until the block ends.

        Local hits never get here: they are answered before anyone waits.
        """
        with self._changed:
            while key in self._computing:
                self._changed.wait()
            self._computing.add(key)
        try:
            yield
        finally:
            with self._changed:
                self._computing.discard(key)
                self._changed.notify_all()

    def _tally(self, counter: str) -> None:
        with self._changed:
            setattr(self._counters, counter, getattr(self._counters, counter) + 1)

    def _failed(self, command: str, name: str, exc: redis.RedisError) -> None:
        self._tally("redis_errors")
        logger.warning("Redis %s %s failed; serving without Redis: %r", command, name, exc)

    def _local_text(self, key: str) -> str | None:
        """The JSON text of ``key`` in the LRU, unless absent or expired (then dropped)."""
        with self._changed:
            entry = self._lru.get(key)
            if entry is None:
                return None
            if self._now() >= entry[0]:
                del self._lru[key]
                return None
            self._counters.local_hits += 1
            return entry[1]

    def _fetch(self, key: str, name: str) -> str | None:
        """The JSON text of ``key`` from the LRU or from Redis (which refills the LRU)."""
        text = self._local_text(key)
        if text is not None:
            return text
        try:
            raw = self._client.get(name)
        except redis.RedisError as exc:
            self._failed("GET", name, exc)
            return None
        if raw is None:
            return None
        try:
            text = raw.decode() if isinstance(raw, bytes) else str(raw)
            json.loads(text)
        except ValueError:  # UnicodeDecodeError included: pickles and other binary data
            logger.warning("%s does not hold JSON; computing it again", name)
            return None
        self._remember(key, text)
        self._tally("redis_hits")
        return text

    def _put(self, key: str, name: str, text: str) -> None:
        try:
            with self._client.pipeline(transaction=True) as transaction:
                transaction.set(name, text)  # MULTI ... EXEC: never a key without its TTL
                transaction.expire(name, self._ttl_seconds)
                transaction.execute()
        except redis.RedisError as exc:
            self._failed("SET", name, exc)
        self._remember(key, text)

    def _remember(self, key: str, text: str) -> None:
        with self._changed:
            self._lru[key] = (self._now() + self._local_ttl_seconds, text)
