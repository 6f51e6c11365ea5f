"""Checks of "Error handling is robust": partial failure, retries, backoff, timeouts, input."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from pytest_tutorial import as_plain_json, assert_same_json
from pytest_tutorial.tutorials.batch_processor.support import (
    FakeRandom,
    FakeSleep,
    RecordingHandler,
    expected_value,
    guard,
    plain_results,
    records,
)


def outcome(entry: dict[str, Any]) -> dict[str, Any]:
    """The parts of a result a check compares: ok, value, attempts, the error's type."""
    error = entry.get("error")
    kind = error.split(":", 1)[0] if isinstance(error, str) else error
    return {
        "ok": entry.get("ok"),
        "value": entry.get("value"),
        "attempts": entry.get("attempts"),
        "error": kind,
    }


def succeeded(item: Any, attempts: int = 1) -> dict[str, Any]:
    """The outcome of an item that succeeded on attempt ``attempts``."""
    return {"ok": True, "value": expected_value(item), "attempts": attempts, "error": None}


def failed(error: str, attempts: int) -> dict[str, Any]:
    """The outcome of an item that failed for good with an ``error`` exception."""
    return {"ok": False, "value": None, "attempts": attempts, "error": error}


def recorded_delays(sleep: FakeSleep) -> list[float]:
    """The delays the processor slept, as plain numbers."""
    __tracebackhide__ = True
    delays = as_plain_json(list(sleep.delays), what="the delays passed to sleep()")
    for delay in delays:
        assert type(delay) in (int, float), f"sleep() was given {delay!r}, expected seconds"
    return [float(delay) for delay in delays]


def assert_delays(actual: list[float], expected: list[float], *, why: str) -> None:
    """Fail unless the delays match (to float precision), saying what was expected and why."""
    __tracebackhide__ = True
    same = len(actual) == len(expected) and all(
        math.isclose(a, e, rel_tol=1e-9, abs_tol=1e-12)
        for a, e in zip(actual, expected, strict=True)
    )
    assert same, f"the retries slept {actual}, expected {expected}: {why}"


@pytest.mark.checklist(
    "errors",
    points=2,
    step=2,
    hint="catch the handler's exception per item and return it as a failed ItemResult "
    "('ValueError: bad record'); never let one item's error escape process()",
)
async def test_one_failing_item_does_not_fail_the_batch(make_processor: Callable[..., Any]) -> None:
    items = records(6)
    handler = RecordingHandler(failures={2: [ValueError("bad record")], 4: [KeyError("sku")]})
    async with guard("process() of 6 items"):
        try:
            result = await make_processor(handler, chunk_size=3).process(items)
        except Exception as error:
            pytest.fail(
                f"process() raised {type(error).__name__}: {error} because one item failed; "
                "a failing item should become a failed result",
                pytrace=False,
            )
    entries = plain_results(result)
    expected = [succeeded(item) for item in items]
    expected[2] = failed("ValueError", 1)
    expected[4] = failed("KeyError", 1)
    assert_same_json([outcome(e) for e in entries], expected, what="the outcomes of 6 items")
    assert entries[2].get("error") == "ValueError: bad record", (
        f"the error of item 2 is {entries[2].get('error')!r}, expected 'ValueError: bad record'"
    )


@pytest.mark.checklist(
    "errors",
    points=2,
    step=4,
    hint="after failed attempt n sleep random() * min(max_delay, base_delay * 2 ** (n - 1)) "
    "through the injected sleep, then try again",
)
async def test_transient_failures_are_retried_with_exponential_backoff(
    make_processor: Callable[..., Any], fake_sleep: FakeSleep
) -> None:
    flaky: list[BaseException] = [
        ConnectionError("reset"),
        TimeoutError("slow upstream"),
        ConnectionError("reset"),
    ]
    handler = RecordingHandler(failures={0: flaky})
    processor = make_processor(
        handler, max_attempts=5, base_delay=0.1, max_delay=10.0, random=FakeRandom(0.5)
    )
    async with guard("process() of a flaky item"):
        result = await processor.process(records(1))
    assert_same_json(
        [outcome(e) for e in plain_results(result)],
        [succeeded(records(1)[0], attempts=4)],
        what="the outcome of an item that failed three times, then succeeded",
    )
    assert handler.call_counts() == {0: 4}, f"the handler was called {handler.calls}"
    assert_delays(
        recorded_delays(fake_sleep),
        [0.05, 0.1, 0.2],
        why="with base_delay=0.1 and random() = 0.5 the delays double: 0.5 * 0.1 * 2 ** (n - 1)",
    )


@pytest.mark.checklist(
    "errors",
    step=4,
    hint="full jitter: multiply the capped exponential delay by one random() draw per retry; "
    "the cap is max_delay",
)
async def test_backoff_is_capped_and_jittered(
    make_processor: Callable[..., Any], fake_sleep: FakeSleep
) -> None:
    handler = RecordingHandler(failures={0: [ConnectionError("reset")] * 5})
    processor = make_processor(
        handler, max_attempts=6, base_delay=0.1, max_delay=0.3, random=FakeRandom(0.9, 0.2, 0.6)
    )
    async with guard("process() of a flaky item"):
        await processor.process(records(1))
    caps = [0.1, 0.2, 0.3, 0.3, 0.3]
    draws = [0.9, 0.2, 0.6, 0.9, 0.2]
    assert_delays(
        recorded_delays(fake_sleep),
        [cap * draw for cap, draw in zip(caps, draws, strict=True)],
        why="each delay is random() times min(max_delay=0.3, 0.1 * 2 ** (n - 1))",
    )


@pytest.mark.checklist(
    "errors",
    step=4,
    hint="retry only the exception types in `transient` (ConnectionError, TimeoutError by "
    "default); any other error fails the item at once",
)
async def test_other_errors_are_not_retried(
    make_processor: Callable[..., Any], fake_sleep: FakeSleep
) -> None:
    handler = RecordingHandler(failures={0: [ValueError("bad record")], 1: [KeyError("sku")]})
    processor = make_processor(handler, max_attempts=4)
    async with guard("process() of 3 items"):
        result = await processor.process(records(3))
    assert handler.call_counts() == {0: 1, 1: 1, 2: 1}, (
        f"items whose handler raised ValueError or KeyError were retried: calls {handler.calls}"
    )
    assert recorded_delays(fake_sleep) == [], "the processor slept although nothing was transient"
    assert_same_json(
        [outcome(e) for e in plain_results(result)],
        [failed("ValueError", 1), failed("KeyError", 1), succeeded(records(3)[2])],
        what="the outcomes",
    )


@pytest.mark.checklist(
    "errors",
    step=4,
    hint="give up after max_attempts calls: the result keeps the last error and the number "
    "of attempts; a custom `transient` tuple replaces the default one",
)
async def test_gives_up_after_max_attempts(
    make_processor: Callable[..., Any], fake_sleep: FakeSleep
) -> None:
    handler = RecordingHandler(
        failures={0: [ConnectionError("reset")] * 9, 1: [LookupError("not yet")] * 9}
    )
    processor = make_processor(handler, max_attempts=3, transient=(ConnectionError, LookupError))
    async with guard("process() of 2 failing items"):
        result = await processor.process(records(2))
    entries = plain_results(result)
    assert_same_json(
        [outcome(e) for e in entries],
        [failed("ConnectionError", 3), failed("LookupError", 3)],
        what="the outcomes of two items that always fail transiently",
    )
    assert handler.call_counts() == {0: 3, 1: 3}, f"expected 3 calls each, got {handler.calls}"
    assert len(fake_sleep.delays) == 4, (
        f"expected 2 sleeps per item (between 3 attempts), got {fake_sleep.delays}"
    )


@pytest.mark.checklist(
    "errors",
    points=2,
    step=3,
    timeout=20,
    hint="wrap each handler call in asyncio.timeout(item_timeout); a timeout is a "
    "TimeoutError, transient like any other, so it is retried",
)
async def test_slow_items_time_out(make_processor: Callable[..., Any]) -> None:
    handler = RecordingHandler(hang=[1])
    processor = make_processor(handler, item_timeout=0.05, max_attempts=2, chunk_size=3)
    async with guard("process() with one call that never answers (item_timeout=0.05)"):
        result = await processor.process(records(3))
    entries = plain_results(result)
    items = records(3)
    assert_same_json(
        [outcome(e) for e in entries],
        [succeeded(items[0]), failed("TimeoutError", 2), succeeded(items[2])],
        what="the outcomes when item 1 never answers",
    )
    assert handler.in_flight == 0, f"{handler.in_flight} timed-out call(s) are still running"


@pytest.mark.checklist(
    "errors",
    step=1,
    hint="__init__ raises ValueError for chunk_size, max_concurrency or max_attempts below 1, "
    "a negative base_delay, max_delay below base_delay, or item_timeout <= 0",
)
def test_bad_settings_raise_value_error(make_processor: Callable[..., Any]) -> None:
    bad: list[dict[str, Any]] = [
        {"chunk_size": 0},
        {"chunk_size": 2.5},
        {"max_concurrency": 0},
        {"max_attempts": 0},
        {"base_delay": -1.0},
        {"base_delay": 1.0, "max_delay": 0.5},
        {"item_timeout": 0},
        {"item_timeout": -2.0},
    ]
    accepted = []
    for options in bad:
        try:
            make_processor(RecordingHandler(), **options)
        except ValueError:
            continue
        except Exception as error:
            accepted.append(f"{options} raised {type(error).__name__}, not ValueError")
            continue
        accepted.append(f"{options} was accepted")
    assert not accepted, "BatchProcessor settings not rejected: " + "; ".join(accepted)


@pytest.mark.checklist(
    "errors",
    step=1,
    hint="process() raises TypeError unless items is a list or tuple (a str is not a batch "
    "of characters), before calling the handler",
)
async def test_items_must_be_a_list_or_tuple(make_processor: Callable[..., Any]) -> None:
    handler = RecordingHandler()
    processor = make_processor(handler)
    accepted = []
    for items in ("abc", None, {"id": 1}, 42):
        try:
            async with guard(f"process({items!r})"):
                await processor.process(items)
        except TypeError:
            continue
        except Exception as error:
            accepted.append(f"process({items!r}) raised {type(error).__name__}, not TypeError")
            continue
        accepted.append(f"process({items!r}) was accepted")
    assert not accepted, "; ".join(accepted)
    assert handler.calls == [], f"the handler was called for bad input: {handler.calls}"
