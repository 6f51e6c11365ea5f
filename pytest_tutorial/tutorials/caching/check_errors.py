"""Checks of "Error handling is robust": bad input rejected, Redis failures absorbed."""

from __future__ import annotations

import itertools
import json
import logging
import math
import pickle
from collections.abc import Callable
from typing import Any

import pytest
import redis

from pytest_tutorial import InstrumentedRedis, as_plain_json, assert_same_json
from pytest_tutorial.tutorials.caching.support import NAMESPACE, Computation

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
UNUSUAL_VALID_KEYS = ["k" * 200, "user:42/ä€", "a", "{braces}[and]|pipes"]
NOT_JSON: list[tuple[str, object]] = [
    ("object()", object()),
    ("{1, 2}", {1, 2}),
    ("float('nan')", math.nan),
    ("float('inf')", math.inf),
    ("{'k': b'bytes'}", {"k": b"bytes"}),
    ("(1, 2)", (1, 2)),
    ("{1: 'one'}", {1: "one"}),
    ("[{'pair': (1, 2)}]", [{"pair": (1, 2)}]),
]
"""Values JSON cannot hold, or would silently change (a tuple comes back a list)."""


def shown(key: object) -> str:
    """A key as a message shows it: long ones shortened."""
    text = repr(key)
    return text if len(text) <= 24 else f"{text[:12]}…' ({len(str(key))} characters)"


def settings(options: dict[str, Any]) -> str:
    """How a check built the service, for messages: ``CacheService(client, ttl_seconds=0)``."""
    return f"CacheService(client, {', '.join(f'{k}={v!r}' for k, v in options.items())})"


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The WARNING (or worse) messages of the 'cache_service' logger captured so far."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("cache_service") and record.levelno >= logging.WARNING
    ]


def key_operations(service: Any, compute: Computation) -> dict[str, Callable[[object], object]]:
    """Every public method that takes a key, as a one-argument call."""
    return {
        "get_or_compute": lambda key: service.get_or_compute(key, compute),
        "get": lambda key: service.get(key),
        "set": lambda key: service.set(key, 1),
        "invalidate": lambda key: service.invalidate(key),
    }


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
    problems = []
    for name, operation in key_operations(service, compute).items():
        outcomes: dict[str, list[str]] = {}
        for key in BAD_KEYS:
            try:
                operation(key)
            except ValueError:
                continue
            except Exception as error:
                outcome = f"raised {type(error).__name__}: {error}"
            else:
                outcome = "was accepted"
            outcomes.setdefault(outcome, []).append(shown(key))
        for outcome, keys in outcomes.items():
            if len(keys) == 1:
                called = f"{name}({keys[0]})"
            elif len(keys) == len(BAD_KEYS):
                called = f"{name}() of every bad key ({', '.join(keys[:3])}, ...)"
            else:
                called = f"{name}() of {', '.join(keys)}"
            problems.append(f"{called} {outcome}, expected ValueError")
    assert not problems, "bad keys not rejected: " + "; ".join(problems[:4]).replace("\n", " ")
    assert compute.calls == 0, "compute() was called for a bad key"
    assert redis_client.total_commands() == 0, (
        f"bad keys reached Redis: {dict(redis_client.commands)}"
    )


@pytest.mark.checklist(
    "errors",
    step=1,
    hint="a key of exactly 200 characters, or one with punctuation and non-ASCII letters, "
    "is valid: reject only what the rule says",
)
def test_unusual_valid_keys_are_accepted(service: Any) -> None:
    problems = []
    for name, operation in key_operations(service, Computation()).items():
        for key in UNUSUAL_VALID_KEYS:
            try:
                operation(key)
            except Exception as error:
                problems.append(f"{name}({shown(key)}) raised {type(error).__name__}: {error}")
    assert not problems, "valid keys rejected: " + "; ".join(problems[:4])
    for key in UNUSUAL_VALID_KEYS:
        value = {"key": key}
        service.set(key, value)
        assert_same_json(
            service.get(key), value, what=f"get({shown(key)}) after set({shown(key)}, ...)"
        )


@pytest.mark.checklist(
    "errors",
    step=2,
    hint="json.dumps(value, allow_nan=False) and turn its TypeError/ValueError into "
    "ValueError; also refuse a value that does not come back equal from json.loads (tuples, "
    "non-str dict keys), all before storing anything",
)
def test_values_json_cannot_hold_raise_value_error(service: Any, redis_inspector: Any) -> None:
    problems = []
    for index, (label, value) in enumerate(NOT_JSON):

        def store(value: object = value) -> object:
            return service.set("k", value)

        def compute_and_store(value: object = value, index: int = index) -> object:
            return service.get_or_compute(f"c{index}", lambda: value)

        calls = {
            f"set('k', {label})": store,
            f"get_or_compute('c{index}', compute returning {label})": compute_and_store,
        }
        for call, run in calls.items():
            try:
                run()
            except ValueError:
                continue
            except Exception as error:
                problems.append(f"{call} raised {type(error).__name__}: {error}")
                continue
            problems.append(f"{call} was accepted")
    assert not problems, (
        f"expected ValueError, but {len(problems)} call(s) did otherwise: "
        + "; ".join(problems[:4])
    )
    keys = redis_inspector.keys("*")
    assert keys == [], f"a value JSON cannot hold left {keys} in Redis"


@pytest.mark.checklist("errors", step=1, hint="__init__ validates its arguments with ValueError")
def test_bad_settings_raise_value_error(make_service: Callable[..., Any]) -> None:
    bad: list[dict[str, Any]] = [
        {"namespace": ""},
        {"namespace": "a:b"},
        {"namespace": "has space"},
        {"ttl_seconds": 0},
        {"ttl_seconds": -5},
        {"local_max_entries": 0},
        {"local_ttl_seconds": 0},
        {"local_ttl_seconds": -1.0},
    ]
    accepted = []
    for options in bad:
        try:
            make_service(**options)
        except ValueError:
            continue
        except Exception as error:
            accepted.append(f"{settings(options)} raised {type(error).__name__}: {error}")
            continue
        accepted.append(f"{settings(options)} was accepted")
    assert not accepted, "expected ValueError, but " + "; ".join(accepted)


@pytest.mark.checklist(
    "errors",
    step=1,
    hint="the smallest valid settings are ttl_seconds=1, local_max_entries=1 and any "
    "local_ttl_seconds above 0: reject only what is out of range",
)
def test_smallest_valid_settings_are_accepted(
    make_service: Callable[..., Any], redis_inspector: Any
) -> None:
    edge: list[dict[str, Any]] = [
        {"ttl_seconds": 1},
        {"local_max_entries": 1},
        {"local_ttl_seconds": 0.5},
        {"namespace": "n"},
    ]
    rejected: list[str] = []
    for options in edge:
        try:
            service = make_service(**options)
        except Exception as error:
            rejected.append(f"{settings(options)} raised {type(error).__name__}: {error}")
            continue
        try:
            service.set("edge", 1)
            assert_same_json(service.get("edge"), 1, what="get('edge') after set('edge', 1)")
        except Exception as error:
            rejected.append(f"on {settings(options)}: {type(error).__name__}: {error}")
    assert not rejected, "valid settings should work, but " + "; ".join(rejected)


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
    make_service: Callable[..., Any],
    unreachable_redis_client: InstrumentedRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = make_service(unreachable_redis_client)
    compute = Computation()
    with caplog.at_level(logging.WARNING, logger="cache_service"):
        try:
            value = service.get_or_compute("k", compute)
        except redis.RedisError as error:
            pytest.fail(
                f"get_or_compute('k', compute) raised {type(error).__name__} while Redis was "
                f"down: {error}"
            )
    assert_same_json(value, {"computed": 1}, what="get_or_compute('k') while Redis is down")
    stats = as_plain_json(service.stats(), what="stats()")
    assert stats.get("redis_errors", 0) >= 1, (
        f"get_or_compute('k') while Redis was down left stats() = {stats}: count the failed "
        "commands in redis_errors"
    )
    assert warnings_logged(caplog), (
        "get_or_compute('k') while Redis was down logged no WARNING on the 'cache_service' "
        "logger: log every Redis failure the service survives"
    )


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
    assert_same_json(got, {"v": 1}, what="get('k') after set('k', ...) while Redis is down")
    missing = as_plain_json(missing, what="get('other')")
    assert missing is None, (
        f"get('other') of an unknown key returned {missing!r} while Redis was down, expected None"
    )
    dropped = as_plain_json(dropped, what="invalidate('k')")
    assert dropped is False, (
        f"invalidate('k') returned {dropped!r} while Redis was down, expected False "
        "(Redis could not be asked)"
    )


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
        f"with Redis down, redis_errors went {counts} over set('written'), get('unknown') and "
        "invalidate('written'); each failed command should add to it"
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
        service.get_or_compute("a", compute),
        {"computed": 1},
        what="get_or_compute('a') while GET timed out",
    )
    redis_client.heal()
    service.get_or_compute("b", compute)
    assert redis_inspector.get(f"{NAMESPACE}:b") is not None, (
        f"after Redis recovered, get_or_compute('b', compute) stored nothing under {NAMESPACE}:b"
    )
    stats = as_plain_json(service.stats(), what="stats()")
    assert stats["redis_errors"] >= 1, f"a GET that timed out was not counted: stats() = {stats}"


@pytest.mark.checklist(
    "errors",
    step=6,
    hint="a value in Redis that is not JSON (another program wrote it) is a miss: log a "
    "warning, compute, and overwrite it with JSON",
)
def test_a_value_that_is_not_json_is_a_miss(
    service: Any, redis_inspector: Any, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"{NAMESPACE}:k"
    redis_inspector.set(name, pickle.dumps({"written": "by another program"}))
    compute = Computation({"fresh": True})
    with caplog.at_level(logging.WARNING, logger="cache_service"):
        try:
            got = service.get("k")
            value = service.get_or_compute("k", compute)
        except ValueError as error:
            pytest.fail(
                f"with a pickle (not JSON) under {name}, get('k') or get_or_compute('k', "
                f"compute) raised {type(error).__name__}: {error}; expected a miss"
            )
    got = as_plain_json(got, what="get('k')")
    assert got is None, f"get('k') with a pickle (not JSON) under {name} returned {got!r}"
    assert_same_json(value, {"fresh": True}, what=f"get_or_compute('k') with a pickle in {name}")
    assert compute.calls == 1, f"compute() ran {compute.calls} times, expected once"
    stored = redis_inspector.get(name)
    assert stored is not None, f"get_or_compute('k') stored nothing under {name}"
    assert_same_json(json.loads(stored), {"fresh": True}, what=f"{name} after get_or_compute")
    assert warnings_logged(caplog), (
        f"reading a value that is not JSON from {name} logged no WARNING on the "
        "'cache_service' logger"
    )
