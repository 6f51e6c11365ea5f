"""Tests for the reference ``batch_processor``: what a strong learner would write.

Every test builds its own processor and handler, so they share nothing and run in any
order. Retries sleep through a fake ``sleep`` that records delays and never waits; only
the timeout test waits for real, a few hundredths of a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from batch_processor import BatchProcessor


class Handler:
    """An async handler that records calls and how many ran at once.

    With ``gate`` set, every call waits until the test opens the gate, so the test decides
    how long calls last (not the number of loop turns a limiter needs to start them).
    """

    def __init__(
        self,
        *,
        failures: dict[int, list[Exception]] | None = None,
        gate: asyncio.Event | None = None,
    ) -> None:
        self.failures = failures or {}
        self.gate = gate
        self.calls: list[int] = []
        self.in_flight = 0
        self.peak = 0

    async def __call__(self, item: Any) -> Any:
        self.calls.append(item)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            for _ in range(item % 4 + 1):  # later items often finish first
                await asyncio.sleep(0)
            if self.gate is not None:
                await self.gate.wait()
            planned = self.failures.get(item)
            if planned:
                raise planned.pop(0)
            return item * 10
        finally:
            self.in_flight -= 1


async def until(condition: Callable[[], bool], within: float = 1.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not condition():
            await asyncio.sleep(0.001)


class FakeSleep:
    """Records the delays a processor sleeps; returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make(handler: Any, sleep: FakeSleep | None = None, **settings: Any) -> BatchProcessor:
    """A processor with a fake sleep and a fixed jitter draw of 0.5."""
    return BatchProcessor(handler, sleep=sleep or FakeSleep(), random=lambda: 0.5, **settings)


@pytest.mark.asyncio
async def test_results_keep_input_order_when_calls_finish_out_of_order() -> None:
    result = await make(Handler(), chunk_size=4, max_concurrency=4).process(list(range(10)))

    assert [r.value for r in result.results] == [n * 10 for n in range(10)]
    assert [r.index for r in result.results] == list(range(10))
    assert all(r.ok and r.attempts == 1 for r in result.results)


@pytest.mark.asyncio
async def test_every_item_is_processed_exactly_once() -> None:
    handler = Handler()

    await make(handler, chunk_size=3, max_concurrency=2).process(list(range(11)))

    assert sorted(handler.calls) == list(range(11))


@pytest.mark.asyncio
@pytest.mark.parametrize(("chunk_size", "max_concurrency", "peak"), [(20, 3, 3), (2, 5, 2)])
async def test_concurrency_is_bounded_by_max_concurrency_and_chunk_size(
    chunk_size: int, max_concurrency: int, peak: int
) -> None:
    gate = asyncio.Event()
    handler = Handler(gate=gate)
    processor = make(handler, chunk_size=chunk_size, max_concurrency=max_concurrency)
    task = asyncio.create_task(processor.process(list(range(20))))

    await until(lambda: handler.in_flight >= peak)  # the bound is reached (or passed)
    await asyncio.sleep(0.05)  # and nothing more starts while the calls are held
    gate.set()
    await task

    assert handler.peak == peak


@pytest.mark.asyncio
async def test_a_failing_item_does_not_fail_the_batch() -> None:
    handler = Handler(failures={2: [ValueError("bad record")]})

    result = await make(handler).process([1, 2, 3])

    assert [r.ok for r in result.results] == [True, False, True]
    assert result.results[1].error == "ValueError: bad record"
    assert result.failed == [result.results[1]]


@pytest.mark.asyncio
async def test_transient_errors_are_retried_with_exponential_backoff() -> None:
    sleep = FakeSleep()
    flaky = [ConnectionError("reset"), TimeoutError("slow"), ConnectionError("reset")]
    handler = Handler(failures={7: flaky})

    result = await make(handler, sleep, max_attempts=4, base_delay=0.1).process([7])

    assert result.results[0].ok
    assert result.results[0].attempts == 4
    assert sleep.delays == pytest.approx([0.05, 0.1, 0.2])  # 0.5 * 0.1 * 2 ** (n - 1)


@pytest.mark.asyncio
async def test_backoff_is_capped_at_max_delay() -> None:
    sleep = FakeSleep()
    handler = Handler(failures={1: [ConnectionError("reset")] * 4})

    await make(handler, sleep, max_attempts=5, base_delay=1.0, max_delay=2.0).process([1])

    assert sleep.delays == pytest.approx([0.5, 1.0, 1.0, 1.0])


@pytest.mark.asyncio
async def test_other_errors_are_not_retried() -> None:
    sleep = FakeSleep()
    handler = Handler(failures={1: [ValueError("bad")]})

    result = await make(handler, sleep, max_attempts=5).process([1])

    assert handler.calls == [1]
    assert sleep.delays == []
    assert result.results[0].attempts == 1


@pytest.mark.asyncio
async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    handler = Handler(failures={1: [ConnectionError("first"), ConnectionError("last")]})

    result = await make(handler, max_attempts=2).process([1])

    assert result.results[0].error == "ConnectionError: last"
    assert result.results[0].attempts == 2
    assert result.metrics["retries"] == 1


@pytest.mark.asyncio
async def test_a_call_that_never_answers_times_out() -> None:
    async def handler(item: int) -> int:
        if item == 2:
            await asyncio.Event().wait()  # never set
        return item

    result = await make(handler, item_timeout=0.02, max_attempts=2).process([1, 2, 3])

    assert [r.ok for r in result.results] == [True, False, True]
    assert (result.results[1].error or "").startswith("TimeoutError")
    assert result.results[1].attempts == 2


@pytest.mark.asyncio
async def test_cancelling_process_cancels_every_call() -> None:
    started_items: list[int] = []
    cancelled: list[int] = []

    async def handler(item: int) -> int:
        started_items.append(item)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(item)
            raise
        return item

    task = asyncio.create_task(make(handler, max_concurrency=3).process(list(range(10))))
    await until(lambda: len(started_items) >= 3)  # however many loop turns that takes
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(cancelled) == sorted(started_items)  # every call in flight was cancelled
    assert len(started_items) == 3  # and none started after the cancellation
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.asyncio
async def test_each_batch_logs_its_metrics(caplog: pytest.LogCaptureFixture) -> None:
    handler = Handler(failures={3: [KeyError("sku")]})

    with caplog.at_level(logging.INFO, logger="batch_processor"):
        result = await make(handler, chunk_size=2).process([1, 2, 3, 4, 5])

    [record] = [r for r in caplog.records if hasattr(r, "batch_metrics")]
    assert record.batch_metrics == result.metrics
    assert {k: v for k, v in result.metrics.items() if k != "duration_ms"} == {
        "batch_id": 1,
        "items": 5,
        "chunks": 3,
        "succeeded": 4,
        "failed": 1,
        "retries": 0,
    }


@pytest.mark.asyncio
async def test_an_empty_batch_calls_nothing() -> None:
    handler = Handler()

    result = await make(handler).process([])

    assert list(result.results) == []
    assert handler.calls == []
    assert result.metrics["chunks"] == 0


@pytest.mark.parametrize(
    "settings",
    [
        {"chunk_size": 0},
        {"max_concurrency": 0},
        {"max_attempts": 0},
        {"base_delay": -1.0},
        {"base_delay": 2.0, "max_delay": 1.0},
        {"item_timeout": 0},
    ],
)
def test_bad_settings_raise_value_error(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        BatchProcessor(Handler(), **settings)


@pytest.mark.asyncio
@pytest.mark.parametrize("items", ["abc", None, {"a": 1}])
async def test_items_must_be_a_list_or_tuple(items: Any) -> None:
    handler = Handler()

    with pytest.raises(TypeError):
        await make(handler).process(items)
    assert handler.calls == []
