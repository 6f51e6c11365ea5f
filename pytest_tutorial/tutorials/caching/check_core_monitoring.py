"""Checks of "All core functionality works correctly" for observability: stats() and monitor."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from pytest_tutorial import Solution, as_plain_json, assert_same_json, by_reference, value_now
from pytest_tutorial.tutorials.caching.support import Computation

SLEEP_MS = 30.0
"""How long the monitored functions take at least: the logged duration cannot be shorter."""
CLOCK_SLACK_MS = 20.0
"""What a logged duration may exceed the check's own measurement by (clock resolution)."""
DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*ms\b")


def logged_ms(record: logging.LogRecord) -> float | None:
    """The first ``<number> ms`` in a log record's message, or None."""
    found = DURATION.search(record.getMessage())
    return float(found.group(1)) if found else None


def check_duration(record: logging.LogRecord, call: str, measured_ms: float) -> None:
    """Fail unless ``record`` logs a duration between SLEEP_MS and what the check measured."""
    __tracebackhide__ = True
    message = record.getMessage()
    duration = logged_ms(record)
    assert duration is not None, f"the log line {message!r} of {call} has no duration in ms"
    assert SLEEP_MS - 0.5 <= duration <= measured_ms * 1.05 + CLOCK_SLACK_MS, (
        f"the log line {message!r} of {call} says {duration:g} ms, but the call took "
        f"{measured_ms:.1f} ms (at least {SLEEP_MS:g}): log (end - start) * 1000 of one "
        "monotonic clock, such as time.perf_counter()"
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
    snapshot = by_reference(first.stats)()  # the dict itself, even in worker mode
    assert_same_json(
        value_now(snapshot),
        expected,
        what="stats() of a service after a miss and a local hit of 'k'",
    )
    expected_second = {"local_hits": 0, "redis_hits": 1, "misses": 1, "redis_errors": 0}
    assert_same_json(
        second.stats(),
        expected_second,
        what="stats() of a second service after a Redis hit of 'k' and get('absent')",
    )
    first.get_or_compute("k", compute)
    assert_same_json(
        value_now(snapshot),
        expected,
        what="a dict stats() returned, read again after one more read (it should be a "
        "snapshot, not the live counters)",
    )


@pytest.mark.checklist(
    "core",
    step=6,
    hint="monitor() logs '<qualname> ... ms' at INFO on the 'cache_service' "
    "logger, at ERROR when the call raises, and uses functools.wraps",
)
def test_monitor_logs_durations(solution: Solution, caplog: pytest.LogCaptureFixture) -> None:
    def lookup(x: int) -> int:
        """Doc."""
        time.sleep(SLEEP_MS / 1000)
        return x * 2

    def broken() -> None:
        time.sleep(SLEEP_MS / 1000)
        raise KeyError("gone")

    monitored = solution.monitor(lookup)
    kept = (getattr(monitored, "__name__", None), getattr(monitored, "__doc__", None))
    assert kept == ("lookup", "Doc."), (
        f"monitor(lookup) has name and docstring {kept}, expected ('lookup', 'Doc.'): "
        "decorate the wrapper with functools.wraps(func)"
    )
    with caplog.at_level(logging.DEBUG, logger="cache_service"):
        began = time.perf_counter()
        result = as_plain_json(monitored(21), what="monitor(lookup)(21)")
        took_ms = (time.perf_counter() - began) * 1000
        assert result == 42, f"monitor(lookup)(21) returned {result!r}, expected lookup's 42"
        failing = solution.monitor(broken)
        began = time.perf_counter()
        with pytest.raises(KeyError):
            failing()
        failed_ms = (time.perf_counter() - began) * 1000
    records = [r for r in caplog.records if r.name.startswith("cache_service")]
    info = [r for r in records if r.levelno == logging.INFO and "lookup" in r.getMessage()]
    assert info, (
        "monitor(lookup)(21) logged no INFO record naming 'lookup' on the 'cache_service' "
        f"logger (records: {[r.getMessage() for r in records][:3]})"
    )
    check_duration(info[0], "monitor(lookup)(21)", took_ms)
    errors = [r for r in records if r.levelno >= logging.ERROR and "broken" in r.getMessage()]
    assert errors, (
        "monitor(broken)(), which raised KeyError, logged no ERROR record naming 'broken' on "
        "the 'cache_service' logger"
    )
    check_duration(errors[0], "monitor(broken)()", failed_ms)
