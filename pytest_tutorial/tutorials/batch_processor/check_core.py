"""Checks of "All core functionality works correctly": order, exactly once, bounds, metrics."""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tutorial import Solution, SolutionWatch, as_plain_json, assert_same_json, settle
from pytest_tutorial.tutorials.batch_processor.support import (
    FakeRandom,
    FakeSleep,
    RecordingHandler,
    cancel_leftovers,
    expected_value,
    guard,
    plain_results,
    records,
)

HOLD_S = 0.3
"""How long the bound check holds ``max_concurrency`` calls open at most. A correct limiter
never starts another call meanwhile; a rate limiter whose next start comes sooner does. The
hold ends as soon as nothing can start a call before it would end (no timer due sooner, no
callback ready: :func:`~pytest_tutorial.settle`), which a correct limiter reaches at once."""
REFILL_S = 1.0
"""How long freed slots may stay empty. A correct limiter refills them within a few loop
turns; a rate limiter whose starts are ``HOLD_S`` or more apart needs over a second for five."""
SETTLE_S = 0.05
"""How long a check waits at most, with calls held, for a call too many to start (less once
nothing can start one: :func:`~pytest_tutorial.settle`)."""
SLOW_CALL_S = 0.03
"""A handler call that really waits, so a batch's duration has a known lower bound."""
GATHER_S = 0.05
"""How long the order check's calls wait for no further call to start before they answer
in scrambled order: the calls of a chunk then all overlap, whether they reach the check's
loop at once (in one process) or one by one over a worker's channel."""

sizes = st.integers(min_value=0, max_value=40)
chunk_sizes = st.integers(min_value=1, max_value=12)
bounds = st.integers(min_value=1, max_value=8)


def scrambled(key: int) -> int:
    """How often a call yields before answering: later items often finish first."""
    return (key * 7 + 3) % 5


def split_metrics(value: object, *, what: str) -> tuple[dict[str, Any], float]:
    """A metrics dict without its ``duration_ms``, and that duration (checked to be >= 0)."""
    __tracebackhide__ = True
    metrics = as_plain_json(value, what=what)
    assert isinstance(metrics, dict), f"{what} should be a dict, got {metrics!r}"
    metrics = dict(metrics)
    duration = metrics.pop("duration_ms", None)
    assert type(duration) in (int, float), f"{what} has duration_ms={duration!r}, expected ms"
    assert math.isfinite(duration), f"{what} has duration_ms={duration!r}, expected ms"
    assert duration >= 0, f"{what} has duration_ms={duration!r}, expected ms >= 0"
    return metrics, float(duration)


def success(index: int, item: Any) -> dict[str, Any]:
    """The result of an item whose first call succeeded."""
    return {
        "index": index,
        "ok": True,
        "value": expected_value(item),
        "error": None,
        "attempts": 1,
    }


@pytest.mark.checklist(
    "core",
    points=2,
    step=2,
    hint="process() returns one ItemResult per item, in input order, whatever order the "
    "handler calls finish in: asyncio.gather keeps the order of its arguments",
)
async def test_results_come_back_in_input_order(make_processor: Callable[..., Any]) -> None:
    items = records(10)
    handler = RecordingHandler(yields=scrambled, gather_s=GATHER_S)
    async with guard("process() of 10 items"):
        result = await make_processor(handler, chunk_size=4).process(items)
    assert_same_json(
        plain_results(result),
        [success(n, item) for n, item in enumerate(items)],
        what="the results of 10 items whose calls finish out of order",
    )


@pytest.mark.checklist(
    "core",
    points=2,
    step=2,
    hint="split the items into chunks of chunk_size (items[start:start + chunk_size]), "
    "call the handler once per item, and place each result at its item's index",
)
@given(count=sizes, chunk_size=chunk_sizes, max_concurrency=bounds)
async def test_every_item_is_processed_exactly_once_in_order(
    make_processor: Callable[..., Any], count: int, chunk_size: int, max_concurrency: int
) -> None:
    items = records(count)
    handler = RecordingHandler(yields=scrambled)
    processor = make_processor(handler, chunk_size=chunk_size, max_concurrency=max_concurrency)
    settings = f"{count} items, chunk_size={chunk_size}, max_concurrency={max_concurrency}"
    async with guard(f"process() of {settings}"):
        result = await processor.process(items)
    counts = handler.call_counts()
    wrong = {key: calls for key, calls in counts.items() if calls != 1}
    missing = [item["id"] for item in items if item["id"] not in counts]
    assert not wrong, (
        f"with {settings} every item should reach the handler exactly once; "
        f"called more than once: {wrong}"
    )
    assert not missing, f"with {settings} some items never reached the handler: {missing}"
    values = [entry.get("value") for entry in plain_results(result)]
    assert_same_json(
        values,
        [expected_value(item) for item in items],
        what=f"the result values, in order, with {settings}",
    )


@pytest.mark.checklist(
    "core",
    points=2,
    step=3,
    hint="hold an asyncio.Semaphore(max_concurrency) around every handler call, so never "
    "more than max_concurrency calls run at once",
)
@given(count=sizes, chunk_size=chunk_sizes, max_concurrency=bounds)
async def test_concurrency_never_exceeds_the_bound(
    make_processor: Callable[..., Any], count: int, chunk_size: int, max_concurrency: int
) -> None:
    handler = RecordingHandler(yields=scrambled)
    processor = make_processor(handler, chunk_size=chunk_size, max_concurrency=max_concurrency)
    async with guard(f"process() of {count} items"):
        await processor.process(records(count))
    allowed = min(max_concurrency, chunk_size)
    assert handler.peak <= allowed, (
        f"{handler.peak} handler calls ran at once with max_concurrency={max_concurrency} "
        f"and chunk_size={chunk_size}; at most {allowed} may"
    )


@pytest.mark.checklist(
    "core",
    points=2,
    step=3,
    hint="start the calls of a chunk together (asyncio.gather) and let an asyncio.Semaphore "
    "hold back the rest: a freed slot starts the next item at once. Awaiting items one by "
    "one, or a rate limiter (N calls per period), does not keep max_concurrency in flight",
)
async def test_keeps_max_concurrency_calls_in_flight_and_no_more(
    solution: Solution, make_processor: Callable[..., Any]
) -> None:
    bound = 5
    handler = RecordingHandler(hold=True)
    processor = make_processor(handler, chunk_size=20, max_concurrency=bound)
    call = f"process() of 20 items with max_concurrency={bound}, calls held open by the check"
    watch = SolutionWatch(solution)
    task = asyncio.create_task(processor.process(records(20)))
    try:
        await handler.wait_for_calls(bound, task, what=call)
        await settle(watch, at_most=HOLD_S)  # at once when nothing can start a call sooner
        assert handler.peak == bound, (
            f"{call}: {handler.peak} calls ran at once while {bound} were held open for "
            f"{HOLD_S:g} s; no call may start before a running one finishes (a rate limiter "
            "lets calls start on a clock, not when a slot frees)"
        )
        handler.release_all()
        await handler.wait_for_calls(
            bound,
            task,
            started=2 * bound,
            within=REFILL_S,
            what=call,
            why=f" once the first {bound} answered: start the next items as soon as slots free",
        )
        assert handler.peak == bound, (
            f"{call}: {handler.peak} calls ran at once after the first {bound} answered, "
            f"at most {bound} may"
        )
        handler.release_all(stop_holding=True)
        async with guard(f"{call}, once the check stopped holding calls"):
            result = await task
    finally:
        handler.release_all(stop_holding=True)
        await cancel_leftovers()
    values = [entry.get("value") for entry in plain_results(result)]
    assert_same_json(
        values, [expected_value(item) for item in records(20)], what=f"the values of {call}"
    )


@pytest.mark.checklist(
    "core",
    step=2,
    hint="process the chunks one after another: start chunk k+1 only when every call of "
    "chunk k has finished (await the chunk's gather inside the loop)",
)
async def test_chunks_run_one_after_another(
    solution: Solution, make_processor: Callable[..., Any]
) -> None:
    # The first chunk's calls are held open and answered one at a time: no item of the next
    # chunk may start before the last one answered. Loop turns alone cannot show it when the
    # handler is reached over a worker's channel, where a call can end before the next one
    # arrives. A design that starts a chunk's calls one by one is held the same way.
    handler = RecordingHandler(yields=scrambled, hold=True)
    processor = make_processor(handler, chunk_size=4, max_concurrency=10)
    call = "process() of 10 items with chunk_size=4, the first chunk's calls held open"
    watch = SolutionWatch(solution)
    task = asyncio.create_task(processor.process(records(10)))
    try:
        for answered in range(4):
            await handler.wait_for_held(task, what=call)
            await settle(watch, at_most=SETTLE_S)
            assert_started_only(handler, range(4), f"{call}, {answered} of them answered")
            handler.release_first()
        handler.release_all(stop_holding=True)
        async with guard(f"{call}, once the check stopped holding calls"):
            await task
    finally:
        handler.release_all(stop_holding=True)
        await cancel_leftovers()
    chunk_lengths = [4, 4, 2]
    finished = [0, 0, 0]
    for kind, key in handler.events:
        chunk = key // 4
        if kind == "end":
            finished[chunk] += 1
            continue
        unfinished = [c for c in range(chunk) if finished[c] < chunk_lengths[c]]
        assert not unfinished, (
            f"item {key} (chunk {chunk}) started before chunk {unfinished[0]} finished; with "
            "chunk_size=4 the chunks of 10 items must run one after another"
        )


def assert_started_only(handler: RecordingHandler, keys: range, call: str) -> None:
    """Fail if the handler was called for an item outside ``keys`` (the first chunk)."""
    __tracebackhide__ = True
    started = sorted(handler.call_counts())
    outside = [key for key in started if key not in keys]
    assert not outside, (
        f"{call}: the handler was called for items {started}, of which {outside} are not in "
        f"the first chunk {list(keys)}; start chunk k+1 only when every call of chunk k has "
        "finished"
    )


@pytest.mark.checklist(
    "core",
    step=2,
    hint="an empty list is a valid batch: no chunk, no handler call, no results",
)
async def test_an_empty_batch_is_fine(make_processor: Callable[..., Any]) -> None:
    handler = RecordingHandler()
    async with guard("process([])"):
        result = await make_processor(handler).process([])
    entries = plain_results(result)
    assert entries == [], f"process([]) returned the results {str(entries)[:200]}, expected []"
    assert handler.calls == [], f"process([]) called the handler with {handler.calls}"


@pytest.mark.checklist(
    "core",
    points=2,
    step=6,
    hint="after each batch log one INFO record on the 'batch_processor' logger with "
    "extra={'batch_metrics': metrics}: batch_id (1, 2, 3, ... per processor), items, "
    "chunks, succeeded, failed, retries, duration_ms (the same dict as "
    "BatchResult.metrics); an empty batch has items=0 and chunks=0",
)
async def test_each_batch_logs_its_metrics(
    make_processor: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    handler = RecordingHandler(
        failures={1: [ConnectionError("connection reset")], 3: [ValueError("bad record")]}
    )
    processor = make_processor(handler, chunk_size=2)
    calls = ["process() of 5 items", "process() of 3 items", "process([])"]
    with caplog.at_level(logging.INFO, logger="batch_processor"):
        async with guard("three calls of process() on one processor"):
            returned = [
                await processor.process(records(5)),
                await processor.process(records(3)),
                await processor.process([]),
            ]
    expected = [
        {"batch_id": 1, "items": 5, "chunks": 3, "succeeded": 4, "failed": 1, "retries": 1},
        {"batch_id": 2, "items": 3, "chunks": 2, "succeeded": 3, "failed": 0, "retries": 0},
        {"batch_id": 3, "items": 0, "chunks": 0, "succeeded": 0, "failed": 0, "retries": 0},
    ]
    for call, result, want in zip(calls, returned, expected, strict=True):
        metrics, _ = split_metrics(
            result.to_dict().get("metrics"), what=f"{call}.to_dict()['metrics']"
        )
        assert_same_json(
            metrics,
            want,
            what=f"the metrics {call} returned (chunk_size=2; item 1 failed once with "
            "ConnectionError, item 3 raised ValueError)",
        )
    logged = [
        record
        for record in caplog.records
        if record.name == "batch_processor"
        and record.levelno == logging.INFO
        and hasattr(record, "batch_metrics")
    ]
    assert len(logged) == 3, (
        "expected one INFO record with batch_metrics per batch on the 'batch_processor' "
        f"logger, found {len(logged)} for three batches"
    )
    for call, record, want in zip(calls, logged, expected, strict=True):
        metrics, _ = split_metrics(record.batch_metrics, what=f"the batch_metrics of {call}")
        assert_same_json(metrics, want, what=f"the metrics logged for {call}")


@pytest.mark.checklist(
    "core",
    step=6,
    hint="duration_ms is the batch's elapsed time in milliseconds: (time.perf_counter() - "
    "started) * 1000, taken around the whole of process()",
)
async def test_duration_is_the_batch_time_in_milliseconds(
    make_processor: Callable[..., Any],
) -> None:
    async def slow_call(item: Any) -> Any:
        await asyncio.sleep(SLOW_CALL_S)
        return expected_value(item)

    processor = make_processor(slow_call)
    call = f"process() of 1 item whose handler call takes {SLOW_CALL_S * 1000:g} ms"
    async with guard(call):
        began = time.perf_counter()
        result = await processor.process(records(1))
        elapsed_ms = (time.perf_counter() - began) * 1000
    _, duration = split_metrics(result.to_dict().get("metrics"), what=f"{call}: metrics")
    shortest = SLOW_CALL_S * 1000 * 0.9
    assert shortest <= duration <= elapsed_ms + 1, (
        f"{call}: duration_ms is {duration!r}, expected the batch's time in ms: at least "
        f"{shortest:g} and at most the {elapsed_ms:.3f} ms the check measured around it"
    )


@pytest.mark.checklist(
    "core",
    step=4,
    hint="keep the defaults of the tutorial's Initial Configuration and Step 1's signature: "
    "chunk_size=100, max_concurrency=10, max_attempts=3, base_delay=0.1, max_delay=5.0, "
    "item_timeout=10.0",
)
async def test_the_defaults_are_the_documented_ones(
    solution: Solution, fake_sleep: FakeSleep
) -> None:
    def build(handler: RecordingHandler, **settings: Any) -> Any:
        """The learner's processor with its own defaults, apart from ``settings``."""
        return solution.BatchProcessor(
            handler, sleep=fake_sleep, random=FakeRandom(0.5), **settings
        )

    wrong = []
    for setting, default, other in (
        ("chunk_size", 100, "max_concurrency"),
        ("max_concurrency", 10, "chunk_size"),
    ):
        handler = RecordingHandler(hold=True)
        call = f"process() of 150 items with the default {setting} and {other}=1000"
        watch = SolutionWatch(solution)
        task = asyncio.create_task(build(handler, **{other: 1000}).process(records(150)))
        try:
            await handler.wait_for_calls(default, task, within=REFILL_S, what=call)
            await settle(watch, at_most=SETTLE_S)
        finally:
            handler.release_all(stop_holding=True)
            await cancel_leftovers()
        if handler.peak != default:
            wrong.append(f"{setting}: {handler.peak} calls ran at once, expected {default}")

    failing = RecordingHandler(failures={0: [ConnectionError("reset")] * 9})
    async with guard("process() of an item that always fails with ConnectionError"):
        await build(failing).process(records(1))
    if failing.call_counts() != {0: 3}:
        wrong.append(f"max_attempts: the handler was called {len(failing.calls)} times, expected 3")

    delays_before = len(fake_sleep.delays)
    failing = RecordingHandler(failures={0: [ConnectionError("reset")] * 9})
    async with guard("process() of an item that always fails, with max_attempts=8"):
        await build(failing, max_attempts=8).process(records(1))
    delays = as_plain_json(fake_sleep.delays[delays_before:], what="the delays passed to sleep()")
    expected_delays = [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.5]
    same = len(delays) == len(expected_delays) and all(
        isinstance(delay, int | float) and math.isclose(delay, want, rel_tol=1e-9)
        for delay, want in zip(delays, expected_delays, strict=True)
    )
    if not same:
        wrong.append(
            f"base_delay and max_delay: with max_attempts=8 and random() = 0.5 the retries slept "
            f"{delays}, expected {expected_delays} (0.5 * min(5.0, 0.1 * 2 ** (n - 1)))"
        )

    try:
        timeout = inspect.signature(solution.BatchProcessor).parameters.get("item_timeout")
    except (TypeError, ValueError):
        timeout = None
    default_timeout = None if timeout is None else timeout.default
    if type(default_timeout) not in (int, float) or default_timeout != 10.0:
        wrong.append(
            f"item_timeout: BatchProcessor's signature has item_timeout={default_timeout!r}, "
            "expected 10.0 (a 10 s limit is read from the signature, not waited for)"
        )
    assert not wrong, "BatchProcessor(handler) does not use the documented defaults: " + "; ".join(
        wrong
    )
