"""Checks of "Error handling is robust": bad input rejected, Redis failures absorbed."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
import redis

from pytest_tutorial import as_plain_json, assert_same_json
from pytest_tutorial.fixtures.redis import InstrumentedRedis
from pytest_tutorial.tutorials.caching.support import Computation

BAD_KEYS: list[object] = [
    "",
    " ",
    "two words",
    "tab\tkey",
    "line\nbreak",
    "nul\x00",
    "x" * 201,
    42,
    None,
    b"bytes",
]


@pytest.mark.checklist(
    "errors",
    points=2,
    step=1,
    hint="validate the key first in every public "
    "method: a non-empty str of at most 200 printable, non-space characters",
)
def test_bad_keys_raise_value_error_before_any_io(
    service: Any, redis_client: InstrumentedRedis
) -> None:
    compute = Computation()
    operations: dict[str, Callable[[object], object]] = {
        "get_or_compute": lambda key: service.get_or_compute(key, compute),
        "get": lambda key: service.get(key),
        "set": lambda key: service.set(key, 1),
        "invalidate": lambda key: service.invalidate(key),
    }
    accepted = []
    for name, operation in operations.items():
        for key in BAD_KEYS:
            try:
                operation(key)
            except ValueError:
                continue
            except Exception as error:
                accepted.append(f"{name}({key!r}) raised {type(error).__name__}, not ValueError")
                continue
            accepted.append(f"{name}({key!r}) was accepted")
    assert not accepted, "bad keys not rejected with ValueError: " + "; ".join(accepted[:6])
    assert compute.calls == 0, "compute() was called for a bad key"
    assert redis_client.total_commands() == 0, (
        f"bad keys reached Redis: {dict(redis_client.commands)}"
    )


@pytest.mark.checklist(
    "errors",
    step=2,
    hint="json.dumps(value, allow_nan=False) and turn its "
    "TypeError/ValueError into ValueError before storing anything",
)
def test_values_json_cannot_hold_raise_value_error(service: Any, redis_inspector: Any) -> None:
    for value in (object(), {1, 2}, float("nan"), float("inf"), {"k": b"bytes"}):
        with pytest.raises(ValueError):
            service.set("k", value)
        with pytest.raises(ValueError):
            service.get_or_compute(f"c{id(value)}", lambda value=value: value)
    assert redis_inspector.keys("*") == [], "an unserialisable value left something in Redis"


@pytest.mark.checklist("errors", step=1, hint="__init__ validates its arguments with ValueError")
def test_bad_settings_raise_value_error(make_service: Callable[..., Any]) -> None:
    bad: list[dict[str, Any]] = [
        {"namespace": ""},
        {"namespace": "a:b"},
        {"namespace": "has space"},
        {"ttl_seconds": 0},
        {"local_max_entries": 0},
        {"local_ttl_seconds": 0},
    ]
    accepted = []
    for options in bad:
        try:
            make_service(**options)
        except ValueError:
            continue
        accepted.append(repr(options))
    assert not accepted, "CacheService accepted " + ", ".join(accepted)


@pytest.mark.checklist(
    "errors",
    points=2,
    step=6,
    hint=[
        "when Redis is down the service should still answer: compute and serve",
        "catch redis.RedisError around every Redis call (GET, SET, DEL): count it in "
        "redis_errors, log a warning, and carry on as if the key were missing",
        "try: raw = self._redis.get(name) / except redis.RedisError: raw = None, and the same "
        "around set(): never let the exception out of get_or_compute",
    ],
)
def test_redis_down_still_serves(
    make_service: Callable[..., Any], unreachable_redis_client: InstrumentedRedis
) -> None:
    service = make_service(unreachable_redis_client)
    compute = Computation()
    try:
        value = service.get_or_compute("k", compute)
    except redis.RedisError as error:
        pytest.fail(f"get_or_compute raised {type(error).__name__} while Redis was down: {error}")
    assert_same_json(value, {"computed": 1}, what="get_or_compute while Redis is down")
    stats = as_plain_json(service.stats(), what="stats()")
    assert stats.get("redis_errors", 0) >= 1, f"redis_errors not counted: stats() = {stats}"


@pytest.mark.checklist(
    "errors",
    step=6,
    hint="set(), get() and invalidate() keep working on the local cache when Redis is down",
)
def test_redis_down_set_get_invalidate_do_not_raise(
    make_service: Callable[..., Any], unreachable_redis_client: InstrumentedRedis
) -> None:
    service = make_service(unreachable_redis_client)
    try:
        service.set("k", {"v": 1})
        got = service.get("k")
        missing = service.get("other")
        dropped = service.invalidate("k")
    except redis.RedisError as error:
        pytest.fail(f"a call raised {type(error).__name__} while Redis was down: {error}")
    assert_same_json(got, {"v": 1}, what="get('k') of a locally cached value while Redis is down")
    assert missing is None, "get() of an unknown key should return None while Redis is down"
    assert dropped is False, "invalidate() should return False when Redis could not be asked"


@pytest.mark.checklist(
    "errors",
    step=6,
    hint="count every Redis command that fails in redis_errors: reads, writes and deletes",
)
def test_every_failed_redis_command_is_counted(
    make_service: Callable[..., Any], unreachable_redis_client: InstrumentedRedis
) -> None:
    service = make_service(unreachable_redis_client)

    def errors() -> int:
        counted: int = as_plain_json(service.stats(), what="stats()")["redis_errors"]
        return counted

    operations: tuple[Callable[[], object], ...] = (
        lambda: service.set("written", {"v": 1}),  # a failed SET
        lambda: service.get("unknown"),  # a failed GET
        lambda: service.invalidate("written"),  # a failed DEL
    )
    counts = [errors()]
    for operation in operations:
        try:
            operation()
        except redis.RedisError as error:
            pytest.fail(f"a call raised {type(error).__name__} while Redis was down: {error}")
        counts.append(errors())
    assert all(after > before for before, after in itertools.pairwise(counts)), (
        f"redis_errors went {counts} over a failed SET, GET and DEL; each should add to it"
    )


@pytest.mark.checklist(
    "errors",
    step=6,
    hint="a Redis timeout on one command must not break the "
    "service; it works normally again once Redis answers",
)
def test_recovers_after_redis_errors(
    make_service: Callable[..., Any], redis_client: InstrumentedRedis, redis_inspector: Any
) -> None:
    service = make_service(local_max_entries=1)
    redis_client.fail("GET", redis.exceptions.TimeoutError("Timeout reading from socket"))
    compute = Computation()
    assert_same_json(
        service.get_or_compute("a", compute), {"computed": 1}, what="read during errors"
    )
    redis_client.heal()
    service.get_or_compute("b", compute)
    assert redis_inspector.get("checks:b") is not None, "after Redis recovered, 'b' was not stored"
    assert as_plain_json(service.stats(), what="stats()")["redis_errors"] >= 1, (
        "the TimeoutError was not counted in redis_errors"
    )
