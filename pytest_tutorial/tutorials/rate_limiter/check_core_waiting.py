"""Checks of "All core functionality works correctly": waiting only when asked, within
the budget, in the sync and the async limiter; and the documented defaults."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import fakeredis
import pytest

from pytest_tutorial import RedisBackend, Solution
from pytest_tutorial.tutorials.rate_limiter.support import (
    LimiterClock,
    RecordingSleep,
    decision_of,
)

NEARLY_A_WINDOW = 9.5
"""One request, then this long a pause: in a sliding log the next refusal is due to clear
within a second (a retry_after below 1 s, where a `1 < retry_after` slip would show)."""


def exhaust(limiter: Any, key: str) -> dict[str, Any]:
    """Hit ``key`` at the current instant until a hit is refused; that decision."""
    __tracebackhide__ = True
    for _ in range(100):
        decision = decision_of(limiter.hit(key), f"hit({key!r})")
        if not decision["allowed"]:
            return decision
    raise AssertionError(f"100 hits on {key!r} at one instant were all admitted")


def nearly_free(limiter: Any, clock: LimiterClock, key: str) -> dict[str, Any]:
    """One hit on ``key``, then the rest of its allowance 9.5 s later; the refusal."""
    limiter.hit(key)
    clock.advance(NEARLY_A_WINDOW)
    return exhaust(limiter, key)


async def aexhaust(limiter: Any, key: str) -> dict[str, Any]:
    """:func:`exhaust` for the async limiter."""
    __tracebackhide__ = True
    for _ in range(100):
        decision = decision_of(await limiter.hit(key), f"await hit({key!r})")
        if not decision["allowed"]:
            return decision
    raise AssertionError(f"100 awaited hits on {key!r} at one instant were all admitted")


@pytest.mark.checklist(
    "core",
    points=2,
    step=3,
    hint=[
        "wait is a budget: sleep a refusal's retry_after only when it fits in what is left, "
        "and subtract each sleep from it",
        "another client may take the freed allowance while you sleep: try again, and give up "
        "(return the refusal) once the next retry_after no longer fits",
    ],
)
def test_wait_spends_no_more_than_its_budget(
    make_limiter: Callable[..., Any], limiter_clock: LimiterClock
) -> None:
    sleep = RecordingSleep(limiter_clock)
    limiter = make_limiter(sleep=sleep)
    first = nearly_free(limiter, limiter_clock, "soon")
    waited = decision_of(limiter.hit("soon", wait=20.0), "hit('soon', wait=20.0)")
    assert waited["allowed"], (
        f"hit('soon', wait=20.0) returned {waited} although the refusal's retry_after "
        f"({first['retry_after']!r}) fits in the wait"
    )
    assert sleep.delays == [pytest.approx(first["retry_after"], abs=0.0011)], (
        f"hit('soon', wait=20.0) slept {sleep.delays}; expected one sleep of the refusal's "
        f"retry_after ({first['retry_after']!r})"
    )
    refused = exhaust(limiter, "contested")
    sleep.delays.clear()
    sleep.meanwhile = lambda: exhaust(limiter, "contested")  # another client wins the slot
    budget = refused["retry_after"] + 0.0005
    given_up = decision_of(limiter.hit("contested", wait=budget), f"hit(..., wait={budget})")
    assert not given_up["allowed"], f"hit('contested', wait={budget}) returned {given_up}"
    assert sleep.delays == [pytest.approx(refused["retry_after"], abs=0.0011)], (
        f"hit('contested', wait={budget}) slept {sleep.delays}; after sleeping the first "
        f"retry_after ({refused['retry_after']!r}) only 0.5 ms of the wait was left, so it "
        "should have returned the second refusal"
    )


@pytest.mark.checklist(
    "core",
    points=2,
    step=3,
    hint="the async hit waits like the sync one: never by default, and with "
    "`await sleep(retry_after)` only while the wait budget lasts",
)
async def test_async_hit_waits_only_when_asked(
    make_async_limiter: Callable[..., Any], limiter_clock: LimiterClock
) -> None:
    sleep = RecordingSleep(limiter_clock)
    limiter = make_async_limiter(sleep=sleep.asleep)
    await limiter.hit("k")
    limiter_clock.advance(NEARLY_A_WINDOW)
    first = await aexhaust(limiter, "k")
    assert sleep.delays == [], f"await hit('k') slept {sleep.delays} by default"
    waited = decision_of(await limiter.hit("k", wait=20.0), "await hit('k', wait=20.0)")
    assert waited["allowed"], f"await hit('k', wait=20.0) returned {waited}"
    assert sleep.delays == [pytest.approx(first["retry_after"], abs=0.0011)], (
        f"await hit('k', wait=20.0) slept {sleep.delays}; expected one sleep of the refusal's "
        f"retry_after ({first['retry_after']!r})"
    )
    refused = await aexhaust(limiter, "contested")
    sleep.delays.clear()

    async def rival() -> None:
        await aexhaust(limiter, "contested")

    sleep.meanwhile = rival
    budget = refused["retry_after"] + 0.0005
    given_up = decision_of(await limiter.hit("contested", wait=budget), "await hit(...)")
    assert not given_up["allowed"], f"await hit('contested', wait={budget}) returned {given_up}"
    assert len(sleep.delays) == 1, (
        f"await hit('contested', wait={budget}) slept {sleep.delays}; only one retry_after "
        "fitted in the wait"
    )


def _explicit() -> dict[str, Any]:
    return {"limit": 10, "window_seconds": 1.0, "namespace": "ratelimit", "fail_open": True}


@pytest.mark.checklist(
    "core",
    points=2,
    step=1,
    hint="the defaults are limit=10, window_seconds=1.0, namespace='ratelimit', "
    "fail_open=True, for RateLimiter and AsyncRateLimiter alike",
)
async def test_defaults_are_the_documented_settings(
    solution: Solution, limiter_clock: LimiterClock, redis_server: RedisBackend
) -> None:
    keys: dict[str, list[str]] = {}
    decisions: dict[str, list[dict[str, Any]]] = {}
    for kind in ("sync", "async"):
        for style in ("default", "explicit"):
            backend = redis_server.separate()
            settings = _explicit() if style == "explicit" else {}
            down = fakeredis.FakeServer()
            down.connected = False
            if kind == "sync":
                limiter = solution.RateLimiter(backend.client(), clock=limiter_clock, **settings)
                broken = solution.RateLimiter(
                    fakeredis.FakeRedis(server=down), clock=limiter_clock, **settings
                )
            else:
                client = backend.async_client()
                limiter = solution.AsyncRateLimiter(client, clock=limiter_clock, **settings)
                broken = solution.AsyncRateLimiter(
                    fakeredis.FakeAsyncRedis(server=down), clock=limiter_clock, **settings
                )
            seen = []
            for step in range(6):
                for _ in range(4 if step else 12):
                    result = limiter.hit("user") if kind == "sync" else await limiter.hit("user")
                    seen.append(decision_of(result, f"{kind} hit('user')"))
                result = broken.hit("user") if kind == "sync" else await broken.hit("user")
                seen.append(decision_of(result, f"{kind} hit('user') with Redis down"))
                limiter_clock.advance(0.35)
            label = f"{kind} {style}"
            decisions[label] = seen
            inspector = backend.inspector()
            # digits as '#': a design may name keys by window number, which moves with time
            keys[label] = sorted(re.sub(r"\d+", "#", key.decode()) for key in inspector.scan_iter())
            inspector.close()
            if kind == "async":
                await client.aclose()
            # every run starts on a window edge: a fixed-window design sees the same phases
            limiter_clock.advance_to((limiter_clock.elapsed // 10 + 1) * 10)
    for kind in ("sync", "async"):
        name = "RateLimiter" if kind == "sync" else "AsyncRateLimiter"
        assert decisions[f"{kind} default"] == decisions[f"{kind} explicit"], (
            f"{name}(client) decided otherwise than {name}(client, limit=10, "
            "window_seconds=1.0, namespace='ratelimit', fail_open=True) on the same requests "
            "(Redis up and down): the defaults "
            "are not the documented ones"
        )
        assert keys[f"{kind} default"] == keys[f"{kind} explicit"], (
            f"{name}(client) stored {keys[f'{kind} default']}, the documented defaults store "
            f"{keys[f'{kind} explicit']}"
        )
