"""Checks of "All core functionality works correctly": order, exactly once, bounds, metrics."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tutorial import as_plain_json, assert_same_json
from pytest_tutorial.tutorials.batch_processor.support import (
    RecordingHandler,
    expected_value,
    guard,
    plain_results,
    records,
)

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
    handler = RecordingHandler(yields=scrambled)
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
    step=3,
    hint="start the calls of a chunk together (asyncio.gather) and let the semaphore hold "
    "back the rest: awaiting the items one by one runs them sequentially",
)
async def test_uses_the_concurrency_it_is_allowed(make_processor: Callable[..., Any]) -> None:
    handler = RecordingHandler(yields=lambda key: 3)
    processor = make_processor(handler, chunk_size=20, max_concurrency=5)
    async with guard("process() of 20 items"):
        await processor.process(records(20))
    assert handler.peak == 5, (
        f"with max_concurrency=5 and 20 items at most {handler.peak} handler call(s) ran at "
        "once; the processor should keep 5 in flight"
    )


@pytest.mark.checklist(
    "core",
    step=2,
    hint="process the chunks one after another: start chunk k+1 only when every call of "
    "chunk k has finished (await the chunk's gather inside the loop)",
)
async def test_chunks_run_one_after_another(make_processor: Callable[..., Any]) -> None:
    handler = RecordingHandler(yields=scrambled)
    processor = make_processor(handler, chunk_size=4, max_concurrency=10)
    async with guard("process() of 10 items"):
        await processor.process(records(10))
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


@pytest.mark.checklist(
    "core",
    step=2,
    hint="an empty list is a valid batch: no handler call, an empty result, metrics with "
    "items=0 and chunks=0",
)
async def test_an_empty_batch_is_fine(make_processor: Callable[..., Any]) -> None:
    handler = RecordingHandler()
    async with guard("process([])"):
        result = await make_processor(handler).process([])
    assert plain_results(result) == [], "process([]) should have no results"
    assert handler.calls == [], "process([]) called the handler"
    metrics, _ = split_metrics(result.to_dict().get("metrics"), what="to_dict()['metrics']")
    counts = {key: metrics.get(key) for key in ("items", "chunks", "succeeded", "failed")}
    assert_same_json(
        counts,
        {"items": 0, "chunks": 0, "succeeded": 0, "failed": 0},
        what="the metrics of an empty batch",
    )


@pytest.mark.checklist(
    "core",
    points=2,
    step=6,
    hint="after each batch log one INFO record on the 'batch_processor' logger with "
    "extra={'batch_metrics': metrics}: batch_id, items, chunks, succeeded, failed, "
    "retries, duration_ms (the same dict as BatchResult.metrics)",
)
async def test_each_batch_logs_its_metrics(
    make_processor: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    handler = RecordingHandler(
        failures={1: [ConnectionError("connection reset")], 3: [ValueError("bad record")]}
    )
    processor = make_processor(handler, chunk_size=2)
    with caplog.at_level(logging.INFO, logger="batch_processor"):
        async with guard("two calls of process()"):
            first = await processor.process(records(5))
            await processor.process(records(3))
    expected = [
        {"batch_id": 1, "items": 5, "chunks": 3, "succeeded": 4, "failed": 1, "retries": 1},
        {"batch_id": 2, "items": 3, "chunks": 2, "succeeded": 3, "failed": 0, "retries": 0},
    ]
    logged = [
        record
        for record in caplog.records
        if record.name == "batch_processor"
        and record.levelno == logging.INFO
        and hasattr(record, "batch_metrics")
    ]
    assert len(logged) == 2, (
        f"expected one INFO record with batch_metrics per batch on the 'batch_processor' "
        f"logger, found {len(logged)} for two batches"
    )
    for number, (record, want) in enumerate(zip(logged, expected, strict=True), start=1):
        metrics, _ = split_metrics(record.batch_metrics, what=f"batch {number}'s batch_metrics")
        assert_same_json(metrics, want, what=f"batch {number}'s logged metrics")
    returned, _ = split_metrics(first.to_dict().get("metrics"), what="to_dict()['metrics']")
    assert_same_json(returned, expected[0], what="the first BatchResult's metrics")
