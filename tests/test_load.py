"""The load runner's percentile math, error accounting and concurrency."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tutorial.load import nearest_rank, run_load, run_load_async


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
    active = 0
    peak = 0
    lock = threading.Lock()
    calls = 0

    def call() -> None:
        nonlocal active, peak, calls
        with lock:
            active += 1
            calls += 1
            peak = max(peak, active)
        time.sleep(0.002)
        with lock:
            active -= 1

    result = run_load(call, requests=60, concurrency=6, warmup=4)
    assert calls == 64
    assert len(result.latencies_ns) == 60
    assert result.errors == 0
    assert peak == 6
    assert result.p50_ms >= 2.0
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
    active = 0
    peak = 0

    async def call() -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.001)
        active -= 1

    result = asyncio.run(run_load_async(call, requests=30, concurrency=5))
    assert len(result.latencies_ns) == 30
    assert peak == 5


@pytest.mark.parametrize(("requests", "concurrency", "warmup"), [(0, 1, 0), (5, 6, 0), (5, 1, -1)])
def test_bad_sizes_are_rejected(requests: int, concurrency: int, warmup: int) -> None:
    with pytest.raises(ValueError, match=r"requests|concurrency"):
        run_load(lambda: None, requests=requests, concurrency=concurrency, warmup=warmup)
