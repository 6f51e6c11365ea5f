"""Checks of "Performance meets requirements": p95 of whole batches under concurrent load.

Each handler call waits 40 ms, as a call to a downstream service would, so a batch's time
is what the design makes of that wait: 10 items at ``max_concurrency=5`` take two rounds of
calls (about 80 ms) plus the processor's own work; awaiting them one by one takes ten
rounds (over 400 ms, the ceiling). The calls are long next to the processor's own work
(10 batches at a time keep 50 calls in flight on one event loop): a design spending a few
hundred microseconds of CPU per item, as libraries such as tenacity or aiometer do, still
waits on the handler rather than on the CPU on a busy machine, so the verdict judges the
design, not the machine. Each side of the comparison gets its own processor, sleep and
random: nothing is shared between the learner's and the reference's runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from pytest_tutorial import LoadRunner, Solution, assert_same_json
from pytest_tutorial.tutorials.batch_processor.support import (
    FakeRandom,
    FakeSleep,
    guard,
    plain_results,
    records,
)

ITEMS_PER_BATCH = 10
MAX_CONCURRENCY = 5
HANDLER_LATENCY_S = 0.04
"""What each handler call waits, as a call to a downstream service would."""


async def call_service(item: Any) -> Any:
    """A handler standing in for a downstream call that takes 40 milliseconds."""
    await asyncio.sleep(HANDLER_LATENCY_S)
    return item["id"]


@pytest.mark.checklist(
    "performance",
    points=3,
    step=3,
    timeout=90,
    hint="run a chunk's calls concurrently (asyncio.gather under a semaphore), not one "
    "after another, and keep per-item overhead (logging, copies) out of the hot path",
)
async def test_p95_of_batches_under_concurrent_load(
    solution: Solution, processor_factory: Callable[..., Any], load_runner: LoadRunner
) -> None:
    batch = records(ITEMS_PER_BATCH)
    settings = {"chunk_size": ITEMS_PER_BATCH, "max_concurrency": MAX_CONCURRENCY}
    call = f"process() of {ITEMS_PER_BATCH} items whose calls take 40 ms"
    smoke = processor_factory(solution, call_service, **settings)
    async with guard(call):  # one batch must work before its speed means anything
        result = await smoke.process(batch)
    assert_same_json(
        [entry.get("value") for entry in plain_results(result)],
        [item["id"] for item in batch],
        what=f"the values of {call}",
    )

    def batches(implementation: Solution) -> Callable[[], Awaitable[object]]:
        """One side's own processor (its own sleep and random) and a one-batch request."""
        processor = processor_factory(
            implementation, call_service, sleep=FakeSleep(), random=FakeRandom(0.5), **settings
        )
        return lambda: processor.process(batch)

    await load_runner.ajudge(
        batches,
        name=f"batches of {ITEMS_PER_BATCH} items, 40 ms per call, "
        f"max_concurrency={MAX_CONCURRENCY}",
    )
