"""Checks of "All core functionality works correctly": cache-aside, two levels, single-flight."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tutorial import as_plain_json, assert_same_json
from pytest_tutorial.fixtures.redis import FakeClock, InstrumentedRedis
from pytest_tutorial.tutorials.caching.support import (
    LOCAL_TTL_SECONDS,
    NAMESPACE,
    Caller,
    Computation,
)

valid_keys = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S")), min_size=1, max_size=200
).filter(lambda key: key.isprintable() and not any(c.isspace() for c in key))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)


@pytest.mark.checklist(
    "core",
    points=2,
    step=2,
    hint=[
        "get_or_compute: look in the caches first, call compute() only on a miss, then store "
        "the result",
        "order of a read: the local LRU, then redis GET of redis_key(key); only when both miss, "
        "call compute() once and store its JSON in Redis and locally",
        "on a miss: value = compute(); self._redis.set(name, json.dumps(value), "
        "ex=ttl_seconds); keep it locally; return value",
    ],
)
def test_computes_once_then_serves_the_cached_value(service: Any) -> None:
    compute = Computation({"name": "Ada", "roles": ["admin"], "age": 36})
    first = service.get_or_compute("user:1", compute)
    second = service.get_or_compute("user:1", compute)
    assert_same_json(first, compute.value, what="the first get_or_compute('user:1', ...)")
    assert_same_json(second, compute.value, what="the second get_or_compute('user:1', ...)")
    assert compute.calls == 1, (
        f"compute() was called {compute.calls} times for one key, expected once"
    )


@pytest.mark.checklist(
    "core", step=2, hint="set() writes the value as JSON to Redis; get() reads and decodes it"
)
def test_set_then_get_round_trips_through_redis(make_service: Callable[..., Any]) -> None:
    value = {"a": [1, 2.5, None, True], "b": {"nested": "text"}}
    make_service().set("doc:7", value)
    fresh = make_service()  # an empty local cache: the value must come from Redis
    assert_same_json(fresh.get("doc:7"), value, what="get('doc:7') from a second service")
    assert as_plain_json(fresh.get("absent"), what="get('absent')") is None, (
        "get() of a key never stored should return None"
    )


@pytest.mark.checklist(
    "core", step=4, hint="a local (in-process) hit must not send any command to Redis"
)
def test_local_hit_sends_no_redis_command(service: Any, redis_client: InstrumentedRedis) -> None:
    compute = Computation()
    service.get_or_compute("k", compute)
    redis_client.commands.clear()
    assert_same_json(service.get_or_compute("k", compute), {"computed": 1}, what="the cached value")
    assert redis_client.total_commands() == 0, (
        f"a repeated read sent {dict(redis_client.commands)} to Redis; the local LRU should "
        "have answered"
    )


@pytest.mark.checklist(
    "core",
    step=4,
    hint="the local LRU holds at most local_max_entries; evict the least "
    "recently used (OrderedDict.move_to_end + popitem(last=False))",
)
def test_local_cache_evicts_least_recently_used(
    make_service: Callable[..., Any], redis_client: InstrumentedRedis
) -> None:
    service = make_service(local_max_entries=2)
    compute = Computation()
    service.get_or_compute("a", compute)
    service.get_or_compute("b", compute)
    service.get_or_compute("a", compute)  # a is now more recently used than b
    service.get_or_compute("c", compute)  # evicts b
    redis_client.commands.clear()
    service.get_or_compute("a", compute)
    service.get_or_compute("c", compute)
    assert redis_client.total_commands() == 0, "'a' and 'c' should still be in the local cache"
    service.get_or_compute("b", compute)
    assert redis_client.total_commands() > 0, (
        "'b' was the least recently used of three keys with local_max_entries=2, "
        "so it should have been evicted and read from Redis"
    )
    assert compute.calls == 3, "an evicted key must be read back from Redis, not recomputed"


@pytest.mark.checklist(
    "core",
    step=4,
    hint="after a Redis hit, keep the value in the local LRU too, so the next read of that key "
    "needs no Redis command",
)
def test_a_redis_hit_fills_the_local_cache(
    make_service: Callable[..., Any], redis_client: InstrumentedRedis
) -> None:
    compute = Computation()
    make_service().get_or_compute("k", compute)  # another service stored it in Redis
    reader = make_service()
    assert_same_json(reader.get_or_compute("k", compute), {"computed": 1}, what="the Redis hit")
    redis_client.commands.clear()
    assert_same_json(reader.get_or_compute("k", compute), {"computed": 1}, what="the next read")
    assert redis_client.total_commands() == 0, (
        f"the read after a Redis hit sent {dict(redis_client.commands)} to Redis; the hit "
        "should have been kept in the local cache"
    )
    assert compute.calls == 1, "a value found in Redis must not be computed again"


@pytest.mark.checklist(
    "core",
    step=4,
    hint="local entries expire local_ttl_seconds after being stored, "
    "measured with the clock the service was given",
)
def test_local_entries_expire(
    service: Any, redis_client: InstrumentedRedis, fake_clock: FakeClock
) -> None:
    compute = Computation()
    service.get_or_compute("k", compute)
    fake_clock.advance(LOCAL_TTL_SECONDS + 1)
    redis_client.commands.clear()
    assert_same_json(service.get_or_compute("k", compute), {"computed": 1}, what="the value")
    assert redis_client.total_commands() > 0, (
        "after local_ttl_seconds the local entry should have expired and Redis been asked"
    )


@pytest.mark.checklist(
    "core", step=4, hint="invalidate() deletes the key from the local cache and from Redis"
)
def test_invalidate_removes_both_levels(service: Any, redis_inspector: Any) -> None:
    compute = Computation()
    service.get_or_compute("k", compute)
    assert service.invalidate("k") is True, "invalidate() of a cached key should return True"
    assert redis_inspector.exists(f"{NAMESPACE}:k") == 0, "the Redis key is still there"
    assert as_plain_json(service.get("k"), what="get('k') after invalidate") is None
    service.get_or_compute("k", compute)
    assert compute.calls == 2, "after invalidate() the next read should compute again"
    assert service.invalidate("never-stored") is False, (
        "invalidate() of an unknown key should return False"
    )


@pytest.mark.checklist(
    "core", step=6, hint="count local_hits, redis_hits and misses as reads happen"
)
def test_stats_count_hits_and_misses(make_service: Callable[..., Any]) -> None:
    first, second = make_service(), make_service()
    compute = Computation()
    first.get_or_compute("k", compute)  # miss
    first.get_or_compute("k", compute)  # local hit
    second.get_or_compute("k", compute)  # redis hit
    second.get("absent")  # miss
    expected = {"local_hits": 1, "redis_hits": 0, "misses": 1, "redis_errors": 0}
    assert_same_json(first.stats(), expected, what="stats() of the first service")
    expected = {"local_hits": 0, "redis_hits": 1, "misses": 1, "redis_errors": 0}
    assert_same_json(second.stats(), expected, what="stats() of the second service")


@pytest.mark.checklist(
    "core", step=2, hint="when compute() raises, let the exception through and cache nothing"
)
def test_compute_errors_are_not_cached(service: Any, redis_inspector: Any) -> None:
    def failing() -> Any:
        raise RuntimeError("backend unavailable")

    with pytest.raises(RuntimeError, match="backend unavailable"):
        service.get_or_compute("k", failing)
    assert redis_inspector.keys("*") == [], "a failed computation left something in Redis"
    compute = Computation()
    assert_same_json(service.get_or_compute("k", compute), {"computed": 1}, what="the next read")
    assert compute.calls == 1, "after a failed computation the next read should compute"


@pytest.mark.checklist(
    "core",
    points=2,
    step=3,
    timeout=20,
    hint="single-flight: a per-key lock so "
    "concurrent callers of one missing key wait for one computation",
)
def test_concurrent_callers_of_one_key_compute_once(service: Any) -> None:
    callers = 10
    gate = threading.Barrier(callers)
    calls: list[int] = []

    def slow_compute() -> Any:
        calls.append(1)
        time.sleep(0.05)
        return {"value": "expensive"}

    threads = [
        Caller(lambda: service.get_or_compute("hot", slow_compute), gate) for _ in range(callers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    for index, thread in enumerate(threads):
        assert_same_json(thread.outcome(), {"value": "expensive"}, what=f"caller {index}'s result")
    assert len(calls) == 1, f"{callers} concurrent callers computed the key {len(calls)} times"


@pytest.mark.checklist(
    "core", step=3, timeout=20, hint="use one lock per key, not one lock for every computation"
)
def test_callers_of_other_keys_do_not_wait(service: Any) -> None:
    release = threading.Event()
    started = threading.Event()

    def blocked() -> Any:
        started.set()
        release.wait(5)
        return "slow"

    slow = Caller(lambda: service.get_or_compute("slow", blocked))
    slow.start()
    try:
        while not started.wait(0.02):
            if not slow.is_alive():
                slow.outcome()
                pytest.fail("get_or_compute('slow', ...) returned without calling compute()")
        began = time.perf_counter()
        value = service.get_or_compute("fast", lambda: "fast")
        waited = time.perf_counter() - began
    finally:
        release.set()
        slow.join(5)
    assert_same_json(value, "fast", what="get_or_compute('fast', ...)")
    assert waited < 1.0, f"a read of another key waited {waited:.1f} s for an unrelated computation"


@pytest.mark.checklist(
    "core",
    step=6,
    hint="monitor() logs '<qualname> ... ms' at INFO on the 'cache_service' "
    "logger, at ERROR when the call raises, and uses functools.wraps",
)
def test_monitor_logs_durations(solution: Any, caplog: pytest.LogCaptureFixture) -> None:
    def lookup(x: int) -> int:
        """Doc."""
        return x * 2

    def broken() -> None:
        raise KeyError("gone")

    monitored = solution.monitor(lookup)
    kept = (monitored.__name__, monitored.__doc__)
    assert kept == ("lookup", "Doc."), (
        "monitor() should keep the function's name and docstring (functools.wraps)"
    )
    with caplog.at_level(logging.DEBUG, logger="cache_service"):
        assert as_plain_json(monitored(21), what="the monitored call's result") == 42
        with pytest.raises(KeyError):
            solution.monitor(broken)()
    records = [r for r in caplog.records if r.name == "cache_service"]
    info = [r for r in records if r.levelno == logging.INFO and "lookup" in r.getMessage()]
    assert info, "no INFO record naming 'lookup' on the 'cache_service' logger"
    assert "ms" in info[0].getMessage(), (
        f"the log line {info[0].getMessage()!r} has no duration in ms"
    )
    errors = [r for r in records if r.levelno >= logging.ERROR and "broken" in r.getMessage()]
    assert errors, "a call that raised should be logged at ERROR naming the function"


@pytest.mark.checklist(
    "core",
    points=2,
    step=2,
    hint="store json.dumps(value) and return json.loads(raw): every "
    "JSON value must come back equal, with the same types",
)
@given(key=valid_keys, value=json_values)
def test_any_key_and_json_value_round_trip(
    make_service: Callable[..., Any], redis_inspector: Any, key: str, value: Any
) -> None:
    make_service().set(key, value)
    assert_same_json(make_service().get(key), value, what=f"get({key!r}) from a second service")
    raw = redis_inspector.get(f"{NAMESPACE}:{key}")
    assert raw is not None, f"nothing stored under the Redis key {NAMESPACE + ':' + key!r}"
    assert_same_json(json.loads(raw), value, what="the JSON stored in Redis")
