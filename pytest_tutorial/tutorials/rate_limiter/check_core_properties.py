"""Checks of "All core functionality works correctly": the rules over random timelines.

Hypothesis builds timelines of requests on two keys (gaps from 0 ms to more than a window,
bursts, retries exactly when a refusal said) for several limits and windows; the limiter's
clock is the checks' fake clock, so every decision is reproducible. The rules are in
``timeline.py`` and the tutorial states them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_tutorial.tutorials.rate_limiter.support import LimiterClock, decision_of
from pytest_tutorial.tutorials.rate_limiter.timeline import Event, broken_rules

WINDOWS = [10.0, 12.5, 60.0]
"""Long windows: fakeredis's clock is frozen for these checks, but a real redis-server's
(``--tutorial-redis=server``) runs on, so a window must be far longer than an example takes
on a loaded machine, or a key could expire between two requests the limiter's clock sees as
simultaneous."""
RETRY = -1
"""A gap meaning "exactly the retry_after of this key's last refusal, if it was refused"."""
WINDOW_SHARE = -2
"""A gap given in thousandths of the window (the second number of the pair)."""

steps = st.lists(
    st.tuples(
        st.one_of(
            st.just((0, 0)),
            st.just((RETRY, 0)),
            st.tuples(st.integers(min_value=1, max_value=50), st.just(0)),
            st.tuples(st.just(WINDOW_SHARE), st.integers(min_value=1, max_value=1500)),
        ),
        st.integers(min_value=0, max_value=1),
        st.integers(min_value=1, max_value=3),
    ),
    min_size=1,
    max_size=24,
)
"""((gap in ms, or RETRY, or WINDOW_SHARE with thousandths of the window), key 0 or 1, hits
at that instant)."""
_runs = itertools.count()


@pytest.mark.checklist(
    "core",
    points=3,
    step=2,
    hint=[
        "over any timeline: never more than limit + limit * T / window admitted in a span of "
        "T < window; refuse only after limit admissions in the last two windows; retry_after "
        "0 when admitted, above 0 when refused, and a retry that late is admitted",
        "the failing timeline is in the message: replay it in a test of your own with a fake clock",
    ],
)
@settings(max_examples=40)
@given(
    limit=st.integers(min_value=1, max_value=6),
    window=st.sampled_from(WINDOWS),
    timeline=steps,
)
def test_timelines_keep_the_rules(
    make_limiter: Callable[..., Any],
    limiter_clock: LimiterClock,
    limit: int,
    window: float,
    timeline: list[tuple[tuple[int, int], int, int]],
) -> None:
    run = next(_runs)
    limiter = make_limiter(limit=limit, window_seconds=window)
    keys = [f"p{run}:a", f"p{run}:b"]
    events: dict[str, list[Event]] = {key: [] for key in keys}
    last: Event | None = None
    last_key = ""
    for (gap, share), key_index, count in timeline:
        key = keys[key_index]
        retrying = gap == RETRY and last is not None and not last.allowed and last_key == key
        if retrying and last is not None:
            limiter_clock.advance(last.retry_after)
        elif gap == WINDOW_SHARE:
            limiter_clock.advance(round(window * share) / 1000)
        elif gap > 0:
            limiter_clock.advance(gap / 1000)
        for n in range(count):
            decision = decision_of(limiter.hit(key), f"hit({key!r})")
            at_ms = round(limiter_clock.elapsed * 1000)
            last = Event(at_ms, decision["allowed"], decision["retry_after"])
            last_key = key
            events[key].append(last)
            assert not (retrying and n == 0 and not last.allowed), (
                f"{key!r} was refused, and a retry exactly its retry_after later (at "
                f"{at_ms / 1000:.3f} s) was refused again (limit {limit} per {window:g} s); "
                f"timeline: {timeline}"
            )
    for key, key_events in events.items():
        problems = broken_rules(key_events, limit=limit, window_ms=round(window * 1000), key=key)
        assert not problems, (
            f"{'; '.join(problems)} (limit {limit} per {window:g} s; timeline of ((gap ms, "
            f"or -1 for 'after retry_after', or -2 and thousandths of the window), key, "
            f"hits): {timeline})"
        )
