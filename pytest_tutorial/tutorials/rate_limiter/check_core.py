"""Checks of "All core functionality works correctly": per-key sliding-window limits.

Concurrency, the decorator and the properties over random timelines have modules of their
own (``check_core_concurrency.py``, ``check_core_decorator.py``, ``check_core_properties.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_tutorial import as_plain_json
from pytest_tutorial.tutorials.rate_limiter.support import (
    LIMIT,
    WINDOW_SECONDS,
    LimiterClock,
    RecordingSleep,
    decision_of,
    run_together,
)
from pytest_tutorial.tutorials.rate_limiter.timeline import Event, broken_rules


def hits(limiter: Any, key: str, count: int) -> list[dict[str, Any]]:
    """``count`` hits on ``key`` at the current instant, as plain decisions."""
    return [decision_of(limiter.hit(key), f"hit({key!r})") for _ in range(count)]


def first_refusal(limiter: Any, key: str) -> dict[str, Any]:
    """Hit ``key`` at the current instant until a hit is refused; that decision."""
    __tracebackhide__ = True
    for _ in range(LIMIT + 1):
        decision = decision_of(limiter.hit(key), f"hit({key!r})")
        if not decision["allowed"]:
            return decision
    raise AssertionError(f"{LIMIT + 1} hits on {key!r} at one instant were all admitted")


def admitted(decisions: list[dict[str, Any]]) -> int:
    """How many of ``decisions`` admitted their request."""
    return sum(1 for decision in decisions if decision["allowed"])


@pytest.mark.checklist(
    "core",
    points=2,
    step=2,
    hint=[
        "hit(key) admits the first `limit` requests of a key and refuses the next one",
        "each decision is a dict: allowed, limit, remaining (how many more would pass right "
        "now), retry_after (0 when admitted, seconds until a retry passes when refused)",
        "the script returns {1, limit - count - 1, 0} when count < limit, else "
        "{0, 0, oldest + window - now}; turn it into the dict with retry_after in seconds",
    ],
)
def test_admits_the_limit_then_refuses(limiter: Any) -> None:
    decisions = hits(limiter, "user:1", LIMIT + 1)
    expected = [
        {"allowed": True, "limit": LIMIT, "remaining": LIMIT - n - 1, "retry_after": 0}
        for n in range(LIMIT)
    ]
    assert decisions[:LIMIT] == expected, (
        f"{LIMIT} hits on a fresh key (limit {LIMIT} per {WINDOW_SECONDS:g} s) returned "
        f"{decisions[:LIMIT]}, expected {expected}"
    )
    refused = decisions[LIMIT]
    assert not refused["allowed"], f"hit number {LIMIT + 1} at the same instant was admitted"
    assert refused["remaining"] == 0, f"the refused hit said remaining={refused['remaining']}"
    assert 0 < refused["retry_after"] <= 2 * WINDOW_SECONDS, (
        f"the refused hit said retry_after={refused['retry_after']!r}; expected seconds above "
        f"0 and at most two windows ({2 * WINDOW_SECONDS:g} s)"
    )


@pytest.mark.checklist(
    "core",
    points=2,
    step=2,
    hint=[
        "retry_after is exact: a retry that many seconds later is admitted, one a millisecond "
        "earlier is refused",
        "for a sliding-window log: the oldest admitted request in the window leaves it at "
        "oldest + window; retry_after = (oldest + window - now) / 1000 in seconds",
    ],
)
def test_retry_after_is_exact_to_the_millisecond(limiter: Any, limiter_clock: LimiterClock) -> None:
    for second in range(LIMIT):  # one admitted request per second: 0, 1, 2, 3, 4
        limiter_clock.advance_to(second)
        hits(limiter, "spread", 1)
    for _ in range(3):
        limiter_clock.advance(0.25)
        refused = first_refusal(limiter, "spread")
        retry = refused["retry_after"]
        assert retry >= 0.002, f"refused at {limiter_clock.elapsed:.3f} s with retry {retry!r}"
        limiter_clock.advance(retry - 0.001)
        early = decision_of(limiter.hit("spread"), "hit('spread')")
        assert not early["allowed"], (
            f"refused with retry_after={retry!r}, yet a retry 1 ms sooner than that was "
            "admitted: the figure is too long"
        )
        limiter_clock.advance(0.001)
        on_time = decision_of(limiter.hit("spread"), "hit('spread')")
        assert on_time["allowed"], (
            f"refused with retry_after={retry!r}, and a retry exactly that much later was "
            f"refused too (its retry_after: {on_time['retry_after']!r}): the figure is too short"
        )


@pytest.mark.checklist(
    "core",
    points=2,
    step=2,
    hint=[
        "every key has its own count: exhausting one leaves every other untouched",
        "the Redis key is f'{namespace}:{key}'; limits={'vip': 8} gives that key its own limit, "
        "reported in its decisions' 'limit'",
    ],
)
def test_keys_and_their_limits_are_independent(make_limiter: Callable[..., Any]) -> None:
    limiter = make_limiter(limits={"vip": 8})
    exhausted = hits(limiter, "alice", LIMIT + 2)
    assert admitted(exhausted) == LIMIT, f"{LIMIT + 2} hits on 'alice' admitted {exhausted}"
    other = hits(limiter, "bob", LIMIT + 1)
    assert admitted(other) == LIMIT, (
        f"after 'alice' used up her limit, {LIMIT + 1} hits on 'bob' admitted "
        f"{admitted(other)}, expected {LIMIT}: keys must not share a count"
    )
    vip = hits(limiter, "vip", 9)
    assert admitted(vip) == 8, f"9 hits on 'vip' (limits={{'vip': 8}}) admitted {admitted(vip)}"
    assert {decision["limit"] for decision in vip} == {8}, f"'vip' decisions said {vip}"
    assert {decision["limit"] for decision in other} == {LIMIT}, f"'bob' decisions said {other}"


@pytest.mark.checklist(
    "core",
    points=3,
    step=2,
    hint=[
        "a fixed window (INCR a per-window counter) admits the limit just before its edge and "
        "the limit again just after: twice the limit within a few milliseconds",
        "keep a sliding window: a sorted set of admission times, trimmed to the last window "
        "(ZREMRANGEBYSCORE key -inf now - window), or a token bucket refilled continuously",
    ],
)
def test_no_burst_of_twice_the_limit_across_a_window_edge(
    limiter: Any, limiter_clock: LimiterClock
) -> None:
    edge = 3 * WINDOW_SECONDS  # a window edge of any fixed window aligned on the epoch
    limiter_clock.advance_to(edge - 0.01)
    before = admitted(hits(limiter, "edge", LIMIT))
    limiter_clock.advance_to(edge + 0.01)
    after = admitted(hits(limiter, "edge", LIMIT))
    assert before + after <= LIMIT, (
        f"{before} hit(s) admitted 10 ms before a window edge and {after} more 10 ms after "
        f"it: {before + after} within 20 ms, limit {LIMIT} per {WINDOW_SECONDS:g} s"
    )
    start = limiter_clock.elapsed + 1.234  # a window anchored at a key's first request
    limiter_clock.advance_to(start)
    first = admitted(hits(limiter, "anchored", 1))
    limiter_clock.advance_to(start + WINDOW_SECONDS - 0.01)
    before = admitted(hits(limiter, "anchored", LIMIT - 1))
    limiter_clock.advance_to(start + WINDOW_SECONDS + 0.01)
    after = admitted(hits(limiter, "anchored", LIMIT))
    assert (first, before) == (1, LIMIT - 1), f"hits on a fresh key admitted {first + before}"
    assert before + after <= LIMIT, (
        f"{before} hit(s) admitted 10 ms before the end of the window that began with the "
        f"key's first request, {after} more 10 ms after it: limit {LIMIT} per "
        f"{WINDOW_SECONDS:g} s"
    )


@pytest.mark.checklist(
    "core",
    points=2,
    step=2,
    hint=[
        "a refused request must not count: a key hammered while over its limit must be "
        "admitted again once its admitted requests leave the window",
        "only ZADD (or take a token) when the request is admitted",
    ],
)
def test_refused_requests_do_not_use_up_the_allowance(
    limiter: Any, limiter_clock: LimiterClock
) -> None:
    events: list[Event] = []
    for step in range(60):  # a hit every half second for 30 s, the first second all at once
        limiter_clock.advance_to(step * 0.5)
        for _ in range(LIMIT + 1 if step == 0 else 1):
            decision = decision_of(limiter.hit("hammered"), "hit('hammered')")
            at_ms = round(limiter_clock.elapsed * 1000)
            events.append(Event(at_ms, decision["allowed"], decision["retry_after"]))
    window_ms = round(WINDOW_SECONDS * 1000)
    problems = broken_rules(events, limit=LIMIT, window_ms=window_ms, key="hammered")
    assert not problems, "; ".join(problems)


@pytest.mark.checklist(
    "core",
    points=2,
    step=3,
    hint=[
        "hit(key) never waits by default: a refused request returns at once with its retry_after",
        "sleep only when hit(key, wait=seconds) is given, with the injected sleep, and only "
        "when the retry_after fits in what is left of wait",
    ],
)
def test_hit_never_blocks_by_default(
    make_limiter: Callable[..., Any], limiter_clock: LimiterClock
) -> None:
    sleep = RecordingSleep(limiter_clock)
    limiter = make_limiter(sleep=sleep)
    hits(limiter, "busy", LIMIT)
    (refused,) = run_together([lambda: limiter.hit("busy")], "hit('busy') over the limit", 5.0)
    refused = decision_of(refused, "hit('busy') over the limit")
    assert not refused["allowed"], "hit('busy') over the limit was admitted"
    assert sleep.delays == [], (
        f"hit('busy') over the limit slept {sleep.delays} by default; it must return at once"
    )
    waited = decision_of(limiter.hit("busy", wait=2 * WINDOW_SECONDS), "hit('busy', wait=20.0)")
    assert waited["allowed"], f"hit('busy', wait=20.0) returned {waited}, expected admitted"
    assert sum(sleep.delays) == pytest.approx(refused["retry_after"], abs=0.0011), (
        f"hit('busy', wait=20.0) slept {sleep.delays}; expected the retry_after "
        f"{refused['retry_after']!r} a refused hit reported"
    )
    sleep.delays.clear()
    hits(limiter, "busy", LIMIT)
    short = decision_of(limiter.hit("busy", wait=0.001), "hit('busy', wait=0.001)")
    assert not short["allowed"], "hit('busy', wait=0.001) over the limit was admitted"
    assert sleep.delays == [], (
        f"hit('busy', wait=0.001) slept {sleep.delays}, although its retry_after "
        f"({short['retry_after']!r}) is longer than the wait: it should return at once"
    )


@pytest.mark.checklist(
    "core",
    step=6,
    hint="metrics() returns {'allowed': n, 'denied': n, 'errors': n}: decisions counted since "
    "the limiter was made",
)
def test_metrics_count_every_decision(limiter: Any) -> None:
    hits(limiter, "a", LIMIT + 2)
    hits(limiter, "b", 1)
    metrics = as_plain_json(limiter.metrics(), what="metrics()")
    expected = {"allowed": LIMIT + 1, "denied": 2, "errors": 0}
    assert metrics == expected, (
        f"after {LIMIT + 2} hits on 'a' and 1 on 'b' (limit {LIMIT}), metrics() returned "
        f"{metrics}, expected {expected}"
    )


@pytest.mark.checklist(
    "core",
    step=2,
    hint="keep the window to the millisecond: window_seconds=2.5 is 2500 ms, not 2 or 3 s",
)
def test_fractional_windows_are_kept_to_the_millisecond(
    make_limiter: Callable[..., Any], limiter_clock: LimiterClock
) -> None:
    limiter = make_limiter(window_seconds=2.5)
    events: list[Event] = []
    for _ in range(2):  # the limit at once, then again 2 s later, inside the 2.5 s window
        for _ in range(LIMIT):
            decision = decision_of(limiter.hit("fraction"), "hit('fraction')")
            at_ms = round(limiter_clock.elapsed * 1000)
            events.append(Event(at_ms, decision["allowed"], decision["retry_after"]))
        limiter_clock.advance(2.0)
    problems = broken_rules(events, limit=LIMIT, window_ms=2500, key="fraction")
    assert not problems, "; ".join(problems) + " (window_seconds=2.5)"
