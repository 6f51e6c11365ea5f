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
    fail_if_not_written,
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


def assert_delays(actual: list[float], expected: list[float], *, call: str, why: str) -> None:
    """Fail unless the delays match (to float precision), naming the call, and saying what
    was expected and why."""
    __tracebackhide__ = True
    same = len(actual) == len(expected) and all(
        math.isclose(a, e, rel_tol=1e-9, abs_tol=1e-12)
        for a, e in zip(actual, expected, strict=True)
    )
    assert same, f"{call}: the retries slept {actual}, expected {expected}: {why}"


@pytest.mark.checklist(
    "errors",
    points=2,
    step=2,
    hint="catch the handler's exception per item and return it as a failed ItemResult whose "
    "error is f'{type(exc).__name__}: {exc}' ('ValueError: bad record'); never let one "
    "item's error escape process(); BatchResult.failed lists the failed results",
)
async def test_one_failing_item_does_not_fail_the_batch(make_processor: Callable[..., Any]) -> None:
    items = records(6)
    handler = RecordingHandler(
        failures={2: [ValueError("bad record")], 4: [KeyError("sku")], 5: [RuntimeError()]}
    )
    call = "process() of 6 items (2 raises ValueError, 4 KeyError, 5 RuntimeError())"
    async with guard(call):
        try:
            result = await make_processor(handler, chunk_size=3).process(items)
        except Exception as error:
            fail_if_not_written(error, "process()")
            pytest.fail(
                f"{call} raised {type(error).__name__}: {error}; a failing item should "
                "become a failed result, not fail the batch",
                pytrace=False,
            )
    entries = plain_results(result)
    expected = [succeeded(item) for item in items]
    expected[2] = failed("ValueError", 1)
    expected[4] = failed("KeyError", 1)
    expected[5] = failed("RuntimeError", 1)
    assert_same_json([outcome(e) for e in entries], expected, what=f"the outcomes of {call}")
    errors = [entries[n].get("error") for n in (2, 4, 5)]
    errors = [error.rstrip() if isinstance(error, str) else error for error in errors]
    assert_same_json(
        errors,
        ["ValueError: bad record", "KeyError: 'sku'", "RuntimeError:"],
        what=f"the errors of {call}, each 'Type: str(exception)' (trailing spaces aside)",
    )
    listed = as_plain_json(
        [entry.to_dict() for entry in result.failed], what=f"{call}: [r.to_dict() for r in .failed]"
    )
    assert_same_json(
        listed,
        [entries[2], entries[4], entries[5]],
        what=f"{call}: BatchResult.failed (the failed results, in input order)",
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
    call = (
        "process() of an item whose calls raise ConnectionError, TimeoutError, "
        "ConnectionError, then succeed (max_attempts=5)"
    )
    async with guard(call):
        result = await processor.process(records(1))
    assert_same_json(
        [outcome(e) for e in plain_results(result)],
        [succeeded(records(1)[0], attempts=4)],
        what=f"the outcome of {call}",
    )
    assert handler.call_counts() == {0: 4}, (
        f"{call}: the handler was called {len(handler.calls)} times, expected 4"
    )
    assert_delays(
        recorded_delays(fake_sleep),
        [0.05, 0.1, 0.2],
        call=call,
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
    call = (
        "process() of an item that fails 5 times with ConnectionError (max_attempts=6, "
        "base_delay=0.1, max_delay=0.3, random() drawing 0.9, 0.2, 0.6, ...)"
    )
    async with guard(call):
        await processor.process(records(1))
    caps = [0.1, 0.2, 0.3, 0.3, 0.3]
    draws = [0.9, 0.2, 0.6, 0.9, 0.2]
    assert_delays(
        recorded_delays(fake_sleep),
        [cap * draw for cap, draw in zip(caps, draws, strict=True)],
        call=call,
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
    call = "process() of 3 items (0 raises ValueError, 1 KeyError; max_attempts=4)"
    async with guard(call):
        result = await processor.process(records(3))
    assert handler.call_counts() == {0: 1, 1: 1, 2: 1}, (
        f"{call}: the handler was called {handler.call_counts()} times per item, expected "
        "once each: ValueError and KeyError are not transient"
    )
    assert recorded_delays(fake_sleep) == [], (
        f"{call}: the processor slept {fake_sleep.delays} although nothing was transient"
    )
    assert_same_json(
        [outcome(e) for e in plain_results(result)],
        [failed("ValueError", 1), failed("KeyError", 1), succeeded(records(3)[2])],
        what=f"the outcomes of {call}",
    )


@pytest.mark.checklist(
    "errors",
    step=4,
    hint="give up after max_attempts calls: the result keeps the last error and the number "
    "of attempts; a custom `transient` tuple replaces the default one; the processor's own "
    "timeouts are TimeoutErrors, retried like any transient error",
)
async def test_gives_up_after_max_attempts(
    make_processor: Callable[..., Any], fake_sleep: FakeSleep
) -> None:
    handler = RecordingHandler(
        failures={
            0: [ConnectionError(f"reset {n}") for n in range(1, 10)],
            1: [LookupError(f"not yet {n}") for n in range(1, 10)],
            2: [TimeoutError("slow upstream")],
        }
    )
    processor = make_processor(handler, max_attempts=3, transient=(ConnectionError, LookupError))
    call = (
        "process() of 3 items that fail with ConnectionError, LookupError, TimeoutError, "
        "with max_attempts=3 and transient=(ConnectionError, LookupError)"
    )
    async with guard(call):
        result = await processor.process(records(3))
    entries = plain_results(result)
    assert_same_json(
        [outcome(e) for e in entries],
        [failed("ConnectionError", 3), failed("LookupError", 3), failed("TimeoutError", 1)],
        what=f"the outcomes of {call} (TimeoutError is not in the transient tuple given)",
    )
    assert_same_json(
        [entry.get("error") for entry in entries[:2]],
        ["ConnectionError: reset 3", "LookupError: not yet 3"],
        what=f"the errors of items 0 and 1 in {call} (the third, last attempt's)",
    )
    assert handler.call_counts() == {0: 3, 1: 3, 2: 1}, (
        f"{call}: the handler was called {handler.call_counts()} times per item, expected "
        "{0: 3, 1: 3, 2: 1}"
    )
    assert len(fake_sleep.delays) == 4, (
        f"{call}: sleep() was called with {fake_sleep.delays}, expected 2 sleeps per item "
        "(between 3 attempts)"
    )

    hung = RecordingHandler(hang=[0])
    call = "process() of 1 item that never answers (item_timeout=0.05, max_attempts=3)"
    async with guard(call):
        result = await make_processor(hung, item_timeout=0.05, max_attempts=3).process(records(1))
    assert_same_json(
        [outcome(e) for e in plain_results(result)],
        [failed("TimeoutError", 3)],
        what=f"the outcome of {call}: a timeout is a TimeoutError, transient by default",
    )


@pytest.mark.checklist(
    "errors",
    points=2,
    step=3,
    timeout=20,
    hint="wrap each handler call in asyncio.timeout(item_timeout); asyncio's TimeoutError "
    "has no message, so say what happened: 'TimeoutError: no result within 0.05 s'",
)
async def test_slow_items_time_out(make_processor: Callable[..., Any]) -> None:
    handler = RecordingHandler(hang=[1])
    processor = make_processor(handler, item_timeout=0.05, max_attempts=1, chunk_size=3)
    call = "process() of 3 items, item 1 never answering (item_timeout=0.05, max_attempts=1)"
    async with guard(call):
        result = await processor.process(records(3))
    entries = plain_results(result)
    items = records(3)
    assert_same_json(
        [outcome(e) for e in entries],
        [succeeded(items[0]), failed("TimeoutError", 1), succeeded(items[2])],
        what=f"the outcomes of {call}",
    )
    error = entries[1].get("error")
    explained = isinstance(error, str) and error.startswith("TimeoutError: ") and error[14:].strip()
    assert explained, (
        f"{call}: the error of item 1 is {error!r}; expected 'TimeoutError: ' and what "
        "happened, such as 'TimeoutError: no result within 0.05 s' (asyncio's own "
        "TimeoutError has no message)"
    )
    assert handler.in_flight == 0, (
        f"{call}: {handler.in_flight} timed-out call(s) were still running after process() returned"
    )


@pytest.mark.checklist(
    "errors",
    step=1,
    hint="__init__ raises ValueError for chunk_size, max_concurrency or max_attempts below 1, "
    "a negative base_delay, max_delay below base_delay, or item_timeout <= 0, and "
    "ValueError (or TypeError) for a handler that is not callable; the edges (a count of "
    "1, base_delay=0, base_delay == max_delay) are valid",
)
def test_bad_settings_raise_value_error(make_processor: Callable[..., Any]) -> None:
    accepted = []
    for handler in (None, "store_record"):
        try:
            make_processor(handler)
        except (ValueError, TypeError):
            continue
        except Exception as error:
            fail_if_not_written(error, f"BatchProcessor({handler!r})")
            accepted.append(f"BatchProcessor({handler!r}) raised {type(error).__name__}")
            continue
        accepted.append(f"BatchProcessor({handler!r}) was accepted")
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
    for options in bad:
        try:
            make_processor(RecordingHandler(), **options)
        except ValueError:
            continue
        except Exception as error:
            fail_if_not_written(error, f"BatchProcessor(handler, **{options})")
            accepted.append(f"{options} raised {type(error).__name__}, not ValueError")
            continue
        accepted.append(f"{options} was accepted")
    assert not accepted, "BatchProcessor settings not rejected: " + "; ".join(accepted)
    edges: list[dict[str, Any]] = [
        {"chunk_size": 1, "max_concurrency": 1, "max_attempts": 1},
        {"base_delay": 0.0, "max_delay": 0.0},
        {"base_delay": 0.5, "max_delay": 0.5},
        {"item_timeout": 0.001},
    ]
    refused = []
    for options in edges:
        try:
            make_processor(RecordingHandler(), **options)
        except Exception as error:
            refused.append(f"{options} raised {type(error).__name__}: {error}")
    assert not refused, "valid BatchProcessor settings at the edge were refused: " + "; ".join(
        refused
    )


@pytest.mark.checklist(
    "errors",
    step=2,
    hint="process() raises TypeError unless items is a list or tuple (a str is not a batch "
    "of characters), before calling the handler; a tuple is a batch like a list",
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
            fail_if_not_written(error, "process()")
            accepted.append(f"process({items!r}) raised {type(error).__name__}, not TypeError")
            continue
        accepted.append(f"process({items!r}) was accepted")
    assert not accepted, "; ".join(accepted)
    assert handler.calls == [], f"the handler was called for bad input: {handler.calls}"
    batch = tuple(records(3))
    async with guard("process() of a tuple of 3 items"):
        result = await processor.process(batch)
    assert_same_json(
        [entry.get("value") for entry in plain_results(result)],
        [expected_value(item) for item in batch],
        what="the values of process() of a tuple of 3 items",
    )
