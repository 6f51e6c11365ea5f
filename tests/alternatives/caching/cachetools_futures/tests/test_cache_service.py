"""Tests for this ``cache_service``: the reference solution's tests, adapted to its messages.

Every test builds its own ``fakeredis.FakeRedis()``, so they share nothing and run in any
order. Local-TTL tests drive a fake clock instead of sleeping.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import fakeredis
import pytest
from cache_service import CacheService, monitor


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Computations:
    """A ``compute`` callable that counts its calls."""

    def __init__(self, value: Any = None) -> None:
        self.value = {"answer": 42} if value is None else value
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        return self.value


def broken_redis() -> fakeredis.FakeRedis:
    """A client whose every command raises redis.exceptions.ConnectionError."""
    server = fakeredis.FakeServer()
    server.connected = False
    return fakeredis.FakeRedis(server=server)


def test_get_or_compute_computes_once_then_serves_from_cache() -> None:
    cache = CacheService(fakeredis.FakeRedis())
    compute = Computations()

    first = cache.get_or_compute("user:1", compute)
    second = cache.get_or_compute("user:1", compute)

    assert first == second == {"answer": 42}
    assert compute.calls == 1
    assert cache.stats() == {"local_hits": 1, "redis_hits": 0, "misses": 1, "redis_errors": 0}


def test_value_is_stored_as_json_under_the_namespaced_key_with_a_ttl() -> None:
    client = fakeredis.FakeRedis()
    cache = CacheService(client, namespace="profiles", ttl_seconds=60)

    cache.get_or_compute("user:1", lambda: {"name": "Ada", "tags": ["x"], "score": 1.5})

    assert client.keys("*") == [b"profiles:user:1"]
    assert json.loads(client.get("profiles:user:1") or b"") == {
        "name": "Ada",
        "tags": ["x"],
        "score": 1.5,
    }
    assert 0 < client.ttl("profiles:user:1") <= 60


@pytest.mark.parametrize(
    "value", [None, True, 0, -7, 2.5, "", "héllo", [], {}, {"a": [1, {"b": None}]}]
)
def test_set_writes_json_with_a_ttl_that_round_trips(value: Any) -> None:
    client = fakeredis.FakeRedis()
    CacheService(client, ttl_seconds=30).set("k", value)

    assert 0 < client.ttl("cache:k") <= 30
    fresh = CacheService(client)  # an empty local cache: the value must come from Redis

    assert fresh.get("k") == value
    assert fresh.stats()["redis_hits"] == 1


def test_redis_hit_fills_the_local_cache() -> None:
    client = fakeredis.FakeRedis()
    CacheService(client).set("k", "v")
    cache = CacheService(client)
    compute = Computations()

    assert cache.get_or_compute("k", compute) == "v"
    client.flushall()
    assert cache.get_or_compute("k", compute) == "v"

    assert compute.calls == 0
    assert cache.stats() == {"local_hits": 1, "redis_hits": 1, "misses": 0, "redis_errors": 0}


@pytest.mark.parametrize(
    "key", ["", " ", "a b", "tab\there", "new\nline", "nul\x00", "x" * 201, 42, None, b"k"]
)
def test_invalid_keys_raise_value_error_before_any_io(key: object) -> None:
    client = fakeredis.FakeRedis()
    cache = CacheService(client)
    compute = Computations()

    calls: list[Callable[[], object]] = [
        lambda: cache.get_or_compute(key, compute),  # type: ignore[arg-type]
        lambda: cache.get(key),  # type: ignore[arg-type]
        lambda: cache.set(key, 1),  # type: ignore[arg-type]
        lambda: cache.invalidate(key),  # type: ignore[arg-type]
        lambda: cache.redis_key(key),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(ValueError, match="key"):
            call()

    assert compute.calls == 0
    assert client.keys("*") == []
    assert CacheService(client).redis_key("x" * 200) == "cache:" + "x" * 200


@pytest.mark.parametrize("value", [math.nan, math.inf, {1, 2}, object(), {"a": (1, 2)}, {1: "a"}])
def test_values_that_are_not_json_raise_value_error_and_store_nothing(value: Any) -> None:
    client = fakeredis.FakeRedis()
    cache = CacheService(client)

    with pytest.raises(ValueError, match="JSON"):
        cache.set("k", value)
    with pytest.raises(ValueError, match="JSON"):
        cache.get_or_compute("k", lambda: value)

    assert client.keys("*") == []
    assert cache.get("k") is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"namespace": ""},
        {"namespace": "a:b"},
        {"namespace": "a b"},
        {"ttl_seconds": 0},
        {"local_max_entries": 0},
        {"local_ttl_seconds": 0},
    ],
)
def test_constructor_rejects_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        CacheService(fakeredis.FakeRedis(), **kwargs)


def test_invalidate_drops_both_levels() -> None:
    client = fakeredis.FakeRedis()
    cache = CacheService(client)
    compute = Computations()
    cache.get_or_compute("k", compute)

    assert cache.invalidate("k") is True
    assert cache.invalidate("k") is False
    assert client.exists("cache:k") == 0
    cache.get_or_compute("k", compute)
    assert compute.calls == 2


def test_local_entries_expire_after_the_local_ttl() -> None:
    client = fakeredis.FakeRedis()
    clock = FakeClock()
    cache = CacheService(client, local_ttl_seconds=5.0, clock=clock)
    cache.set("k", "v1")
    client.set("cache:k", json.dumps("v2"))  # another instance updated Redis

    clock.now += 4.9
    assert cache.get("k") == "v1"  # still fresh locally
    clock.now += 0.2
    assert cache.get("k") == "v2"  # expired locally: read from Redis
    assert cache.stats()["local_hits"] == 1
    assert cache.stats()["redis_hits"] == 1


def test_local_cache_evicts_the_least_recently_used_entry() -> None:
    client = fakeredis.FakeRedis()
    cache = CacheService(client, local_max_entries=2)
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recently used
    cache.set("c", 3)  # evicts "b"
    client.flushall()

    assert cache.get("a") == 1
    assert cache.get("c") == 3
    assert cache.get("b") is None


def test_redis_errors_degrade_to_computing_and_the_local_cache(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = CacheService(broken_redis())
    compute = Computations("fresh")

    with caplog.at_level(logging.WARNING, logger="cache_service"):
        assert cache.get_or_compute("k", compute) == "fresh"
        assert cache.get_or_compute("k", compute) == "fresh"  # served locally
        cache.set("other", 1)
        assert cache.get("other") == 1
        assert cache.get("missing") is None
        assert cache.invalidate("k") is False

    assert compute.calls == 1
    assert cache.stats()["redis_errors"] >= 4
    assert any(record.levelno == logging.WARNING for record in caplog.records)
    assert cache.get_or_compute("k", compute) == "fresh"
    assert compute.calls == 2  # invalidate still dropped the local copy


def test_compute_errors_propagate_and_nothing_is_cached() -> None:
    client = fakeredis.FakeRedis()
    cache = CacheService(client)

    def failing() -> int:
        raise RuntimeError("backend down")

    with pytest.raises(RuntimeError, match="backend down"):
        cache.get_or_compute("k", failing)

    assert client.keys("*") == []
    assert cache.get_or_compute("k", lambda: 7) == 7


def test_concurrent_misses_of_one_key_compute_once() -> None:
    cache = CacheService(fakeredis.FakeRedis())
    started = threading.Barrier(10)
    calls: list[int] = []

    def slow_compute() -> int:
        calls.append(1)
        threading.Event().wait(0.05)  # keep the flight open while the others arrive
        return 99

    def call() -> object:
        started.wait()
        return cache.get_or_compute("hot", slow_compute)

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: call(), range(10)))

    assert results == [99] * 10
    assert len(calls) == 1


def test_different_keys_do_not_wait_for_each_other() -> None:
    cache = CacheService(fakeredis.FakeRedis())
    b_computed = threading.Event()

    def compute_a() -> str:
        # Finishes only once "b" has been computed: with one global lock, "b" would wait.
        return "a" if b_computed.wait(timeout=2) else "blocked"

    def compute_b() -> str:
        b_computed.set()
        return "b"

    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(cache.get_or_compute, "a", compute_a)
        b = pool.submit(cache.get_or_compute, "b", compute_b)
        assert (a.result(timeout=10), b.result(timeout=10)) == ("a", "b")


def test_monitor_logs_durations_and_reraises(caplog: pytest.LogCaptureFixture) -> None:
    @monitor
    def double(x: int) -> int:
        """Double x."""
        if x < 0:
            raise ValueError("negative")
        return 2 * x

    with caplog.at_level(logging.INFO, logger="cache_service"):
        assert double(21) == 42
        with pytest.raises(ValueError, match="negative"):
            double(-1)
        info, error = caplog.records
        CacheService(fakeredis.FakeRedis()).get_or_compute("k", lambda: 1)

    assert (double.__name__, double.__doc__) == ("double", "Double x.")
    assert info.levelno == logging.INFO
    assert "double" in info.getMessage()
    assert "ms" in info.getMessage()
    assert error.levelno == logging.ERROR
    assert "negative" in error.getMessage()
    assert "ms" in error.getMessage()
    assert "CacheService.get_or_compute" in caplog.records[-1].getMessage()
