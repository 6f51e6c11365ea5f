"""Your tests for ``batch_processor`` (Step 5 of the batch_processor tutorial).

Run them from ``exercises/batch_processor`` with ``python -m pytest tests``.
``pytest --tutorial=batch_processor`` runs them too: three times, in shuffled order, and
against two known-bad implementations (one ignores ``max_concurrency``, one returns the
results in the order the calls finished). Your suite must pass on a correct
implementation and fail on both bad ones. It must also catch at least 2 of 4 hidden bugs
(small changes to a correct implementation); a bug counts as caught only by a test that
passes against a correct implementation.
"""

from __future__ import annotations

import asyncio

import pytest
from batch_processor import BatchProcessor


async def double(item: int) -> int:
    """A handler that answers after giving the event loop one turn."""
    await asyncio.sleep(0)
    return item * 2


@pytest.mark.asyncio
async def test_every_item_gets_a_result() -> None:
    processor = BatchProcessor(double, chunk_size=2)

    result = await processor.process([1, 2, 3])

    assert [r.value for r in result.results] == [2, 4, 6]
    assert all(r.ok for r in result.results)


def test_chunk_size_below_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        BatchProcessor(double, chunk_size=0)


# What else to test (each test builds its own processor and handler; mark every async
# test with @pytest.mark.asyncio; never sleep for real):
#
# - Results keep input order even when calls finish out of order (make the handler
#   await asyncio.sleep(0) a different number of times per item).
# - Never more than max_concurrency calls run at once: a handler that counts calls in
#   flight and records the peak; also check the peak reaches the bound.
# - A failing item does not fail the batch: its result has ok=False and
#   error "ValueError: ...", the others succeed.
# - Transient errors (ConnectionError, TimeoutError) are retried with delays
#   random() * min(max_delay, base_delay * 2 ** (n - 1)): pass sleep=<a fake that records
#   delays> and random=lambda: 0.5. Other errors are not retried.
# - A handler that never answers times out after item_timeout (use 0.02 s).
# - Cancelling the task running process() cancels every call in flight and raises
#   CancelledError; asyncio.all_tasks() is back to just your test's task.
# - One INFO record per batch on the "batch_processor" logger with batch_metrics (caplog).
