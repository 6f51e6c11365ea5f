"""Checks of "Performance meets requirements": p95 of whole batches under concurrent load."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from pytest_tutorial.fixtures.core import LoadRunner
from pytest_tutorial.solution import Solution
from pytest_tutorial.tutorials.batch_processor.support import records

ITEMS_PER_BATCH = 20
HANDLER_LATENCY_S = 0.002
"""What each handler call waits, as a call to a fast downstream service would."""


async def call_service(item: Any) -> Any:
    """A handler standing in for a downstream call that takes a couple of milliseconds."""
    await asyncio.sleep(HANDLER_LATENCY_S)
    return item["id"]


@pytest.mark.checklist(
    "performance",
    points=3,
    step=3,
    timeout=60,
    hint="run a chunk's calls concurrently (asyncio.gather under a semaphore), not one "
    "after another, and keep per-item overhead (logging, copies) out of the hot path",
)
async def test_p95_of_batches_under_concurrent_load(
    solution: Solution, processor_factory: Callable[..., Any], load_runner: LoadRunner
) -> None:
    batch = records(ITEMS_PER_BATCH)
    smoke = processor_factory(solution, call_service, chunk_size=ITEMS_PER_BATCH)
    await smoke.process(batch)  # one batch must work before its speed means anything

    def batches(implementation: Solution) -> Callable[[], Awaitable[object]]:
        """One implementation's processor and a request that processes one whole batch."""
        processor = processor_factory(
            implementation, call_service, chunk_size=ITEMS_PER_BATCH, max_concurrency=10
        )
        return lambda: processor.process(batch)

    await load_runner.ajudge(
        batches, name=f"batches of {ITEMS_PER_BATCH} items, 2 ms per call, max_concurrency=10"
    )
