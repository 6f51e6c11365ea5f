"""The load runner's percentile math, error accounting and concurrency."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tutorial.load import LoadResult, nearest_rank, run_load, run_load_async

WAIT_S = 30.0
"""How long a call waits for the others to be in flight: far past what a working runner needs."""


def brute_force_nearest_rank(values: list[int], percent: float) -> int:
    """The definition: the smallest value v with at least percent% of values <= v."""
    ordered = sorted(values)
    for value in ordered:
        at_or_below = sum(1 for other in ordered if other <= value)
        if at_or_below * 100 >= percent * len(ordered) - 1e-9:
            return value
    return ordered[-1]


@given(
    values=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=300),
    percent=st.sampled_from([1, 25, 50, 90, 95, 99, 99.9, 100]),
)
def test_nearest_rank_matches_the_definition(values: list[int], percent: float) -> None:
    assert nearest_rank(sorted(values), percent) == brute_force_nearest_rank(values, percent)


def test_nearest_rank_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], 50)
    with pytest.raises(ValueError, match="percent"):
        nearest_rank([1], 0)


def test_runs_every_request_once_at_the_given_concurrency() -> None:
    """Each timed call waits until six calls are in flight at once: the runner must get there.

    A runner with less concurrency would leave the calls waiting until ``WAIT_S`` and the peak
    below six; the timed calls start after the four warm-up calls, which run one at a time.
    """
    active = 0
    peak = 0
    calls = 0
    changed = threading.Condition()

    def call() -> None:
        nonlocal active, peak, calls
        with changed:
            calls += 1
            warming_up = calls <= 4
            active += 1
            peak = max(peak, active)
            changed.notify_all()
            if not warming_up:
                changed.wait_for(lambda: peak >= 6, timeout=WAIT_S)
        time.sleep(0.002)
        with changed:
            active -= 1

    result = run_load(call, requests=60, concurrency=6, warmup=4)
    assert calls == 64
    assert len(result.latencies_ns) == 60
    assert result.errors == 0
    assert peak == 6
    assert result.p50_ms >= 2.0  # every timed call slept 2 ms
    assert result.p50_ms <= result.p95_ms <= result.p99_ms <= result.max_ms


def test_errors_are_counted_apart_from_latencies() -> None:
    counter = iter(range(1000))

    def call() -> None:
        if next(counter) % 4 == 0:
            raise ConnectionError("refused")

    result = run_load(call, requests=40, concurrency=4)
    assert result.errors == 10
    assert len(result.latencies_ns) == 30
    assert result.error_rate == 0.25
    assert result.error_samples == ("ConnectionError: refused",)
    summary = result.summary()
    assert summary["errors"] == 10


def test_all_failed_gives_no_latency_figures() -> None:
    def call() -> None:
        raise RuntimeError("down")

    result = run_load(call, requests=5, concurrency=1)
    assert math.isinf(result.p95_ms)
    assert result.summary()["p95_ms"] is None


def test_async_runner_drives_concurrent_tasks() -> None:
    """Each call waits until five are in flight at once, as the threaded runner's test does."""
    active = 0
    peak = 0

    async def call(all_in: asyncio.Event) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if peak >= 5:
            all_in.set()
        await asyncio.wait_for(all_in.wait(), timeout=WAIT_S)
        active -= 1

    async def main() -> LoadResult:
        all_in = asyncio.Event()
        return await run_load_async(lambda: call(all_in), requests=30, concurrency=5)

    result = asyncio.run(main())
    assert len(result.latencies_ns) == 30
    assert result.errors == 0
    assert peak == 5


@pytest.mark.parametrize(("requests", "concurrency", "warmup"), [(0, 1, 0), (5, 6, 0), (5, 1, -1)])
def test_bad_sizes_are_rejected(requests: int, concurrency: int, warmup: int) -> None:
    with pytest.raises(ValueError, match=r"requests|concurrency"):
        run_load(lambda: None, requests=requests, concurrency=concurrency, warmup=warmup)
