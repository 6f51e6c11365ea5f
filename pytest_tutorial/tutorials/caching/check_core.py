"""Checks of "All core functionality works correctly": cache-aside through two levels.

Single-flight and the monitoring pieces of the same item have modules of their own
(``check_core_single_flight.py``, ``check_core_monitoring.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tutorial import (
    InstrumentedRedis,
    Solution,
    as_plain_json,
    assert_same_json,
    by_reference,
    value_now,
)
from pytest_tutorial.tutorials.caching.support import (
    DEFAULT_LOCAL_MAX_ENTRIES,
    DEFAULT_LOCAL_TTL_SECONDS,
    DEFAULT_NAMESPACE,
    DEFAULT_TTL_SECONDS,
    LOCAL_TTL_SECONDS,
    NAMESPACE,
    BackendUnavailable,
    Computation,
    ManualClock,
)

# Letters, numbers, punctuation and symbols: no surrogates among them, so every key encodes
# as UTF-8 (asking hypothesis for codec="utf-8" as well would only make it scan all of
# Unicode, over a second, each time its storage folder is new: every graded submission).
valid_keys = st.text(
    alphabet=st.characters(categories=("L", "N", "P", "S")), min_size=1, max_size=200
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


def sent(redis_client: InstrumentedRedis) -> str:
    """The commands the learner's code sent since the last clear, for messages."""
    return str(dict(redis_client.commands))


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
    assert_same_json(first, compute.value, what="the first get_or_compute('user:1', compute)")
    assert_same_json(second, compute.value, what="the second get_or_compute('user:1', compute)")
    assert compute.calls == 1, (
        f"two get_or_compute('user:1', compute) calls ran compute() {compute.calls} times, "
        "expected once: the second should be served from the cache"
    )


@pytest.mark.checklist(
    "core", step=2, hint="set() writes the value as JSON to Redis; get() reads and decodes it"
)
def test_set_then_get_round_trips_through_redis(make_service: Callable[..., Any]) -> None:
    value = {"a": [1, 2.5, None, True], "b": {"nested": "text"}}
    make_service().set("doc:7", value)
    fresh = make_service()  # an empty local cache: the value must come from Redis
    assert_same_json(
        fresh.get("doc:7"), value, what="get('doc:7') on a second service after set('doc:7', ...)"
    )
    absent = as_plain_json(fresh.get("absent"), what="get('absent')")
    assert absent is None, f"get('absent') of a key never stored returned {absent!r}, expected None"


@pytest.mark.checklist(
    "core", step=4, hint="a local (in-process) hit must not send any command to Redis"
)
def test_local_hit_sends_no_redis_command(service: Any, redis_client: InstrumentedRedis) -> None:
    compute = Computation()
    service.get_or_compute("k", compute)
    redis_client.commands.clear()
    assert_same_json(
        service.get_or_compute("k", compute), {"computed": 1}, what="a repeated get_or_compute('k')"
    )
    assert redis_client.total_commands() == 0, (
        f"a repeated get_or_compute('k', compute) sent {sent(redis_client)} to Redis; "
        "the local LRU should have answered it"
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
    assert redis_client.total_commands() == 0, (
        f"with local_max_entries=2, reading a, b, a, c then a and c sent {sent(redis_client)} "
        "to Redis: 'a' (read again after 'b') and 'c' should still be in the local cache"
    )
    service.get_or_compute("b", compute)
    assert redis_client.total_commands() > 0, (
        "with local_max_entries=2, reading a, b, a, c should evict 'b', the least recently "
        "used, but a later get_or_compute('b') sent no command to Redis"
    )
    assert compute.calls == 3, (
        f"compute() ran {compute.calls} times for 3 keys: an evicted key must be read back "
        "from Redis, not recomputed"
    )


@pytest.mark.checklist(
    "core",
    step=4,
    hint="storing a key that is already in the local LRU makes it the most recently used "
    "(move_to_end after every write, not only after reads)",
)
def test_a_write_refreshes_a_keys_place_in_the_lru(
    make_service: Callable[..., Any], redis_client: InstrumentedRedis
) -> None:
    service = make_service(local_max_entries=2)
    service.set("a", 1)
    service.set("b", 2)
    service.set("a", 3)  # a is now more recently used than b
    service.set("c", 4)  # evicts b
    redis_client.commands.clear()
    assert_same_json(service.get("a"), 3, what="get('a') after set('a', 3)")
    assert_same_json(service.get("c"), 4, what="get('c')")
    assert redis_client.total_commands() == 0, (
        "with local_max_entries=2, set('a'), set('b'), set('a') again, then set('c') should "
        f"evict 'b' and keep 'a' and 'c', but reading 'a' and 'c' sent {sent(redis_client)} "
        "to Redis"
    )


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
    assert_same_json(
        reader.get_or_compute("k", compute), {"computed": 1}, what="a Redis hit of 'k'"
    )
    redis_client.commands.clear()
    assert_same_json(
        reader.get_or_compute("k", compute), {"computed": 1}, what="the read after the Redis hit"
    )
    assert redis_client.total_commands() == 0, (
        f"the get_or_compute('k') after a Redis hit sent {sent(redis_client)} to Redis; the "
        "hit should have been kept in the local cache"
    )
    assert compute.calls == 1, "a value found in Redis must not be computed again"


@pytest.mark.checklist(
    "core",
    step=4,
    hint="local entries expire local_ttl_seconds after being stored, "
    "measured with the clock the service was given",
)
def test_local_entries_expire(
    make_service: Callable[..., Any], redis_client: InstrumentedRedis
) -> None:
    clock = ManualClock()
    service = make_service(clock=clock)
    compute = Computation()
    service.get_or_compute("k", compute)
    clock.advance(LOCAL_TTL_SECONDS - 0.5)
    redis_client.commands.clear()
    assert_same_json(service.get_or_compute("k", compute), {"computed": 1}, what="'k' at 4.5 s")
    assert redis_client.total_commands() == 0, (
        f"get_or_compute('k') {LOCAL_TTL_SECONDS - 0.5} s after it was stored, with "
        f"local_ttl_seconds={LOCAL_TTL_SECONDS}, sent {sent(redis_client)} to Redis: the "
        "local entry is still fresh"
    )
    clock.advance(1.0)
    assert_same_json(service.get_or_compute("k", compute), {"computed": 1}, what="'k' at 5.5 s")
    assert redis_client.total_commands() > 0, (
        f"get_or_compute('k') {LOCAL_TTL_SECONDS + 0.5} s after it was stored, with "
        f"local_ttl_seconds={LOCAL_TTL_SECONDS}, sent no command to Redis: the local entry "
        "should have expired (compare the clock you were given with the time it was stored)"
    )


@pytest.mark.checklist(
    "core",
    step=4,
    hint="when a read finds a local entry expired, drop it: an expired entry must never take "
    "the place of a fresh one in the LRU",
)
def test_expired_local_entries_make_room(
    make_service: Callable[..., Any], redis_client: InstrumentedRedis, redis_inspector: Any
) -> None:
    clock = ManualClock()
    service = make_service(local_max_entries=2, clock=clock)
    service.set("a", "A")  # fresh until 5.0
    clock.advance(1.0)
    service.set("b", "B")  # fresh until 6.0
    service.get("a")  # a is the most recently used
    clock.advance(4.5)  # 5.5: a has expired, b has not
    redis_inspector.delete(f"{NAMESPACE}:a")  # another instance invalidated a
    gone = as_plain_json(service.get("a"), what="get('a') after it expired and left Redis")
    assert gone is None, f"get('a') returned {gone!r} after it expired locally and left Redis"
    service.set("c", "C")
    redis_client.commands.clear()
    assert_same_json(service.get("b"), "B", what="get('b')")
    assert redis_client.total_commands() == 0, (
        "with local_max_entries=2, 'a' expired and found so by a read, then set('c'): the "
        f"fresh 'b' should still be local, but get('b') sent {sent(redis_client)} to Redis "
        "(the expired 'a' was kept and 'b' evicted in its place)"
    )


@pytest.mark.checklist(
    "core",
    step=4,
    hint="hand out a fresh copy on every hit (keep the JSON text locally and json.loads it), "
    "so a caller that changes its result cannot change the cache",
)
def test_callers_cannot_change_cached_values(service: Any) -> None:
    original = {"tags": ["a"], "count": 1}
    stored: dict[str, Any] = {"tags": ["a"], "count": 1}
    service.set("s", stored)
    stored["tags"].append("changed after set")
    for call in ("get_or_compute", "get"):
        # the returned dict itself (not a copy, even in worker mode), changed as a caller would
        result = (
            by_reference(service.get_or_compute)("k", lambda: {"tags": ["a"], "count": 1})
            if call == "get_or_compute"
            else by_reference(service.get)("k")
        )
        shape = value_now(result)
        if isinstance(shape, dict) and isinstance(shape.get("tags"), list):
            by_reference(result.get)("tags").append("changed by the caller")
            result.update({"count": 99})
        assert_same_json(
            service.get("k"),
            original,
            what=f"get('k') after a caller changed the dict {call}('k') returned",
        )
    assert_same_json(
        service.get("s"), original, what="get('s') after the caller changed the dict it set"
    )


@pytest.mark.checklist(
    "core", step=4, hint="invalidate() deletes the key from the local cache and from Redis"
)
def test_invalidate_removes_both_levels(service: Any, redis_inspector: Any) -> None:
    compute = Computation()
    service.get_or_compute("k", compute)
    dropped = as_plain_json(service.invalidate("k"), what="invalidate('k')")
    assert dropped is True, f"invalidate('k') of a cached key returned {dropped!r}, expected True"
    assert redis_inspector.exists(f"{NAMESPACE}:k") == 0, (
        f"after invalidate('k') the Redis key {NAMESPACE}:k is still there"
    )
    after = as_plain_json(service.get("k"), what="get('k') after invalidate('k')")
    assert after is None, f"get('k') after invalidate('k') returned {after!r}, expected None"
    service.get_or_compute("k", compute)
    assert compute.calls == 2, "after invalidate('k') the next get_or_compute('k') should compute"
    unknown = as_plain_json(service.invalidate("never-stored"), what="invalidate('never-stored')")
    assert unknown is False, (
        f"invalidate('never-stored') of an unknown key returned {unknown!r}, expected False"
    )


@pytest.mark.checklist(
    "core", step=2, hint="when compute() raises, let the exception through and cache nothing"
)
def test_compute_errors_are_not_cached(service: Any, redis_inspector: Any) -> None:
    def failing() -> Any:
        raise BackendUnavailable("backend unavailable")

    try:
        returned = service.get_or_compute("k", failing)
    except BackendUnavailable:
        pass
    else:
        pytest.fail(
            f"get_or_compute('k', compute) returned {returned!r} although compute() raised "
            "BackendUnavailable: the exception should reach the caller"
        )
    keys = redis_inspector.keys("*")
    assert keys == [], f"a failed computation of 'k' left {keys} in Redis"
    compute = Computation()
    assert_same_json(
        service.get_or_compute("k", compute), {"computed": 1}, what="the read after the failure"
    )
    assert compute.calls == 1, "after a failed computation the next get_or_compute should compute"


@pytest.mark.checklist(
    "core",
    step=1,
    hint="the defaults are namespace='cache', ttl_seconds=300, local_max_entries=256 and "
    "local_ttl_seconds=5.0 (the tutorial's Initial Configuration)",
)
def test_defaults_match_the_documented_settings(
    solution: Solution, redis_client: InstrumentedRedis, redis_inspector: Any
) -> None:
    clock = ManualClock()
    service = solution.CacheService(redis_client, clock=clock)
    service.set("k", {"v": 1})
    stored_at = clock.now
    name = f"{DEFAULT_NAMESPACE}:k"
    keys = sorted(key.decode() for key in redis_inspector.keys("*"))
    assert keys == [name], f"with the default namespace, set('k', ...) wrote {keys}"
    ttl = redis_inspector.ttl(name)
    assert DEFAULT_TTL_SECONDS - 1 <= ttl <= DEFAULT_TTL_SECONDS, (
        f"with the default ttl_seconds, set('k', ...) gave {name} a TTL of {ttl}, "
        f"expected {DEFAULT_TTL_SECONDS}"
    )
    for age, fresh in (
        (DEFAULT_LOCAL_TTL_SECONDS - 0.5, True),
        (DEFAULT_LOCAL_TTL_SECONDS + 0.5, False),
    ):
        clock.advance(age - (clock.now - stored_at))
        redis_client.commands.clear()
        service.get("k")
        assert (redis_client.total_commands() == 0) is fresh, (
            f"with the default local_ttl_seconds ({DEFAULT_LOCAL_TTL_SECONDS}), get('k') at "
            f"{age:g} s after set('k', ...) sent {sent(redis_client)} to Redis; "
            f"the local copy should be {'fresh' if fresh else 'expired'} by then"
        )
    capacity = DEFAULT_LOCAL_MAX_ENTRIES
    filled = solution.CacheService(redis_client, clock=clock)
    for n in range(capacity + 1):
        filled.set(f"n{n}", n)
    redis_client.commands.clear()
    filled.get("n1")
    filled.get(f"n{capacity}")
    assert redis_client.total_commands() == 0, (
        f"with the default local_max_entries ({capacity}), after {capacity + 1} set() calls "
        f"the last {capacity} keys should be local, but reading two of them sent "
        f"{sent(redis_client)} to Redis"
    )
    filled.get("n0")
    assert redis_client.total_commands() > 0, (
        f"with the default local_max_entries ({capacity}), after {capacity + 1} set() calls "
        "the first key should have been evicted, but get('n0') sent no command to Redis"
    )


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
    assert_same_json(
        make_service().get(key), value, what=f"get({key!r}) on a second service after set()"
    )
    raw = redis_inspector.get(f"{NAMESPACE}:{key}")
    assert raw is not None, f"set({key!r}, ...) stored nothing under {NAMESPACE + ':' + key!r}"
    assert_same_json(json.loads(raw), value, what=f"the JSON stored for {key!r}")
