"""Checks of "Error handling is robust": bad input rejected, Redis failures as configured."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import fakeredis
import pytest
import redis

from pytest_tutorial import InstrumentedRedis, Solution, as_plain_json
from pytest_tutorial.tutorials.rate_limiter.support import LIMIT, WINDOW_SECONDS, decision_of

BAD_KEYS: list[object] = ["", "x" * 257, 42, None, b"bytes", ["list"]]
BAD_SETTINGS: list[dict[str, Any]] = [
    {"limit": 0},
    {"limit": -3},
    {"limit": 2.5},
    {"limit": True},
    {"limit": "10"},
    {"window_seconds": 0},
    {"window_seconds": -1.0},
    {"window_seconds": "1"},
    {"window_seconds": float("nan")},
    {"namespace": ""},
    {"limits": {"vip": 0}},
    {"limits": {"": 3}},
]


def settings_text(options: dict[str, Any]) -> str:
    """How a check built the limiter, for messages."""
    return f"RateLimiter(client, {', '.join(f'{k}={v!r}' for k, v in options.items())})"


def expect_value_error(call: Callable[[], object], what: str) -> None:
    """Fail the check unless ``call()`` raises ValueError."""
    __tracebackhide__ = True
    try:
        returned = call()
    except ValueError:
        return
    except Exception as error:
        pytest.fail(f"{what} raised {type(error).__name__}: {error}; expected ValueError")
    pytest.fail(f"expected ValueError, but {what} returned {returned!r}")


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The WARNING (or worse) messages of the 'rate_limiter' logger captured so far."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("rate_limiter") and record.levelno >= logging.WARNING
    ]


@pytest.mark.checklist(
    "errors",
    points=2,
    step=1,
    hint="validate the key before any Redis command: a non-empty str of at most 256 "
    "characters, else ValueError",
)
def test_bad_keys_raise_value_error_before_any_redis_command(
    limiter: Any, redis_client: InstrumentedRedis
) -> None:
    for key in BAD_KEYS:
        redis_client.commands.clear()
        expect_value_error(functools.partial(limiter.hit, key), f"hit({key!r})")
        assert redis_client.total_commands() == 0, (
            f"hit({key!r}) sent {dict(redis_client.commands)} to Redis before rejecting the key"
        )
    edge = decision_of(limiter.hit("k" * 256), "hit(a 256-character key)")
    assert edge["allowed"], "a 256-character key was refused"


@pytest.mark.checklist(
    "errors",
    points=2,
    step=1,
    hint="check the settings in __init__: limit an int >= 1 (not a bool), window_seconds a "
    "number >= 0.001, namespace a non-empty str, every limits entry a valid key and limit",
)
def test_bad_settings_raise_value_error(make_limiter: Callable[..., Any]) -> None:
    for options in BAD_SETTINGS:
        expect_value_error(functools.partial(make_limiter, **options), settings_text(options))
    limiter = make_limiter()
    for wait in (-1.0, "1", float("nan")):
        expect_value_error(
            functools.partial(limiter.hit, "k", wait=wait), f"hit('k', wait={wait!r})"
        )


@pytest.mark.checklist(
    "errors",
    points=2,
    step=6,
    hint=[
        "catch redis.RedisError around the script call; with fail_open=True (the default) "
        "admit the request, count the error and log a warning",
        "the fail-open decision: {'allowed': True, 'limit': limit, 'remaining': limit, "
        "'retry_after': 0}; metrics()['errors'] counts it",
    ],
)
def test_redis_down_fails_open_by_default(
    make_limiter: Callable[..., Any],
    unreachable_redis_client: InstrumentedRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    limiter = make_limiter(unreachable_redis_client)
    decisions = [decision_of(limiter.hit("k"), "hit('k') with Redis down") for _ in range(3)]
    assert all(decision["allowed"] for decision in decisions), (
        f"with Redis down and the default fail_open=True, hit('k') returned {decisions}: "
        "the request should be admitted"
    )
    assert [d["retry_after"] for d in decisions] == [0, 0, 0], decisions
    metrics = as_plain_json(limiter.metrics(), what="metrics()")
    assert metrics == {"allowed": 3, "denied": 0, "errors": 3}, (
        f"after 3 hits with Redis down (fail open), metrics() returned {metrics}"
    )
    logged = warnings_logged(caplog)
    assert len(logged) >= 3, (
        f"with Redis down, 3 hits logged {logged} on the 'rate_limiter' logger; each should "
        "log a warning naming the key"
    )
    assert "'k'" in logged[0], (
        f"with Redis down, 3 hits logged {logged} on the 'rate_limiter' logger; each should "
        "log a warning naming the key"
    )


@pytest.mark.checklist(
    "errors",
    points=2,
    step=6,
    hint=[
        "with fail_open=False a Redis error refuses the request instead of admitting it",
        "the fail-closed decision: {'allowed': False, 'limit': limit, 'remaining': 0, "
        "'retry_after': window_seconds}; never let the RedisError escape",
    ],
)
def test_redis_down_fails_closed_when_configured(
    make_limiter: Callable[..., Any], unreachable_redis_client: InstrumentedRedis
) -> None:
    limiter = make_limiter(unreachable_redis_client, fail_open=False)
    decision = decision_of(limiter.hit("k"), "hit('k') with Redis down, fail_open=False")
    assert not decision["allowed"], (
        f"with Redis down and fail_open=False, hit('k') returned {decision}: refuse it"
    )
    expected = {"allowed": False, "limit": LIMIT, "remaining": 0, "retry_after": WINDOW_SECONDS}
    assert decision == pytest.approx(expected, abs=0.0011), (
        f"the fail-closed refusal was {decision}; expected {expected}: nothing passes, and a "
        "retry makes sense one window later"
    )
    metrics = as_plain_json(limiter.metrics(), what="metrics()")
    assert metrics == {"allowed": 0, "denied": 1, "errors": 1}, (
        f"after 1 hit with Redis down (fail closed), metrics() returned {metrics}"
    )


@pytest.mark.checklist(
    "errors",
    step=6,
    hint="only Redis errors fall back: when Redis answers again, the limits apply again",
)
def test_limits_apply_again_when_redis_recovers(
    make_limiter: Callable[..., Any], redis_client: InstrumentedRedis
) -> None:
    limiter = make_limiter(fail_open=False)
    redis_client.fail("*", redis.TimeoutError("Timeout reading from socket"))
    down = decision_of(limiter.hit("k"), "hit('k') while Redis times out")
    assert not down["allowed"], "a timeout with fail_open=False was admitted"
    redis_client.heal()
    decisions = [decision_of(limiter.hit("k"), "hit('k')") for _ in range(LIMIT + 1)]
    allowed = sum(1 for decision in decisions if decision["allowed"])
    assert allowed == LIMIT, (
        f"after Redis recovered, {LIMIT + 1} hits on 'k' admitted {allowed}, expected {LIMIT}"
    )


@pytest.mark.checklist(
    "errors",
    step=6,
    hint="the async limiter and the decorator follow the same fail_open setting",
)
async def test_async_limiter_and_decorator_follow_the_setting(
    solution: Solution,
    make_async_limiter: Callable[..., Any],
    make_limiter: Callable[..., Any],
    unreachable_redis_client: InstrumentedRedis,
) -> None:
    down = fakeredis.FakeServer()
    down.connected = False  # every command raises redis.ConnectionError
    broken = make_async_limiter(fakeredis.FakeAsyncRedis(server=down), fail_open=False)
    decision = decision_of(await broken.hit("k"), "await hit('k') with Redis down")
    assert not decision["allowed"], f"the async limiter, failing closed, returned {decision}"
    open_limiter = make_limiter(unreachable_redis_client)
    guarded = solution.rate_limited(open_limiter, key=lambda user: user)(lambda user: user.upper())
    assert as_plain_json(guarded("ada"), what="guarded('ada')") == "ADA", (
        "with Redis down and fail_open=True, the decorated call should run"
    )


@pytest.mark.checklist(
    "errors",
    step=6,
    hint="rate_limited checks the pairing when it decorates: an async def function with a "
    "RateLimiter, or a plain one with an AsyncRateLimiter, raises TypeError at once",
)
def test_decorator_refuses_a_limiter_of_the_wrong_kind(
    solution: Solution, limiter: Any, make_async_limiter: Callable[..., Any]
) -> None:
    async def fetch(user: str) -> str:
        """Fetch one page of a user."""
        return user

    def handle(user: str) -> str:
        """Handle one request of a user."""
        return user

    pairs = [("a RateLimiter", limiter, fetch), ("an AsyncRateLimiter", None, handle)]
    for what, chosen, function in pairs:
        guard = chosen if chosen is not None else make_async_limiter()
        kind = "an async def function" if function is fetch else "a plain function"
        try:
            solution.rate_limited(guard, key=lambda user: user)(function)
        except TypeError:
            continue
        pytest.fail(f"rate_limited({what}, ...) accepted {kind}; expected TypeError")
