"""Checks of "Integration points work correctly": async Redis, cancellation, caller timeouts."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from pytest_tutorial import assert_same_json
from pytest_tutorial.tutorials.batch_processor.support import (
    GUARD_S,
    RecordingHandler,
    cancel_leftovers,
    guard,
    leftover_tasks,
    plain_results,
    records,
)


@pytest.mark.checklist(
    "integration",
    points=2,
    step=2,
    hint="the handler may be any coroutine function, such as one that writes through an "
    "asyncio Redis client: await it once per item and return what it returned",
)
async def test_a_handler_writing_to_async_redis(
    make_processor: Callable[..., Any], async_redis_client: Any, redis_inspector: Any
) -> None:
    async def store(item: Any) -> Any:
        key = f"orders:{item['id']}"
        await async_redis_client.set(key, json.dumps(item), ex=600)
        return {"key": key, "stored": int(await async_redis_client.incr("orders:stored"))}

    items = records(12)
    processor = make_processor(store, chunk_size=5, max_concurrency=3)
    async with guard("process() of 12 items with an async Redis client"):
        result = await processor.process(items)
    values = [entry.get("value") for entry in plain_results(result)]
    assert_same_json(
        [value.get("key") if isinstance(value, dict) else value for value in values],
        [f"orders:{n}" for n in range(12)],
        what="the keys the handler returned, in order",
    )
    stored = sorted(value["stored"] for value in values)
    assert stored == list(range(1, 13)), f"the INCR results were {stored}, expected 1..12"
    for item in items:
        raw = redis_inspector.get(f"orders:{item['id']}")
        assert raw is not None, f"orders:{item['id']} is missing from Redis"
        assert_same_json(json.loads(raw), item, what=f"the record stored for item {item['id']}")
    assert int(redis_inspector.get("orders:stored")) == 12, "the handler ran more than 12 times"


@pytest.mark.checklist(
    "integration",
    points=2,
    step=3,
    hint="let CancelledError through (log it, then `raise`) and use asyncio.gather or a "
    "TaskGroup, which cancel and await every call they started: no task may outlive process()",
)
async def test_cancelling_process_cancels_every_call(make_processor: Callable[..., Any]) -> None:
    handler = RecordingHandler(hang=range(100))
    processor = make_processor(handler, chunk_size=20, max_concurrency=4)
    call = "process() of 40 items whose calls never answer (chunk_size=20, max_concurrency=4)"
    task = asyncio.create_task(processor.process(records(40)))
    try:
        await handler.wait_for_calls(4, task, what=call)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=GUARD_S)
        assert done, f"{call} was still running {GUARD_S:g} s after it was cancelled"
        if not task.cancelled():
            error = task.exception()
            got = f"raised {type(error).__name__}: {error}" if error else "returned a result"
            pytest.fail(
                f"process() {got} when it was cancelled; it should re-raise CancelledError "
                "so the caller's cancellation (or timeout) goes through",
                pytrace=False,
            )
        for _ in range(5):
            await asyncio.sleep(0)  # let anything still scheduled run
        running = leftover_tasks()
        assert handler.in_flight == 0, (
            f"{handler.in_flight} handler call(s) were still running after process() was cancelled"
        )
        assert not running, f"{len(running)} task(s) outlived the cancelled process()"
        assert sorted(handler.cancelled) == sorted(handler.calls), (
            f"the calls in flight (items {sorted(handler.calls)}) should all have been "
            f"cancelled; cancelled: items {sorted(handler.cancelled)}"
        )
        assert len(handler.calls) == 4, (
            f"{len(handler.calls) - 4} handler call(s) started after process() was cancelled "
            "with 4 calls in flight (max_concurrency=4)"
        )
    finally:
        task.cancel()
        await cancel_leftovers()


@pytest.mark.checklist(
    "integration",
    step=3,
    hint="a caller's asyncio.timeout() or wait_for() cancels process(): stop every call and "
    "let the cancellation through",
)
async def test_a_caller_timeout_stops_the_batch(make_processor: Callable[..., Any]) -> None:
    handler = RecordingHandler(hang=[5, 6])
    processor = make_processor(handler, chunk_size=10, max_concurrency=10)
    try:
        with pytest.raises(TimeoutError):
            async with guard("process() under the caller's 0.05 s timeout"):
                await asyncio.wait_for(processor.process(records(10)), timeout=0.05)
        assert handler.in_flight == 0, (
            f"{handler.in_flight} handler call(s) still ran after the caller's timeout"
        )
        assert not leftover_tasks(), "tasks were left running after the caller's timeout"
    finally:
        await cancel_leftovers()


@pytest.mark.checklist(
    "integration",
    step=3,
    hint="catch asyncio.CancelledError around the chunk loop, log a WARNING on the "
    "'batch_processor' logger saying how far the batch got, then `raise`",
)
async def test_a_cancelled_batch_logs_a_warning(
    make_processor: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    handler = RecordingHandler(hang=range(100))
    processor = make_processor(handler, chunk_size=10, max_concurrency=2)
    call = "process() of 10 items whose calls never answer, cancelled by its caller"
    with caplog.at_level(logging.INFO, logger="batch_processor"):
        task = asyncio.create_task(processor.process(records(10)))
        try:
            await handler.wait_for_calls(2, task, what=call)
            task.cancel()
            await asyncio.wait({task}, timeout=GUARD_S)
        finally:
            task.cancel()
            await cancel_leftovers()
    warnings = [
        record
        for record in caplog.records
        if record.name == "batch_processor" and record.levelno >= logging.WARNING
    ]
    assert warnings, (
        f"{call}: no WARNING record on the 'batch_processor' logger; a cancelled batch should "
        "say how far it got before it lets the cancellation through"
    )
