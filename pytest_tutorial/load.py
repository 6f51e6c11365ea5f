"""Fire N requests at concurrency C and measure each one: the template's load test.

Workers are threads (or tasks, for coroutine functions) that loop, each taking the next
request number from a shared counter and timing only the call itself with
``time.perf_counter_ns``: no per-request hand-off to a pool sits inside the timed span.
Failed requests are counted apart and do not contribute latencies. Percentiles are
nearest-rank over the successful requests' latencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from pytest_tutorial.report_model import LoadFigures

ERROR_SAMPLES = 5
"""How many distinct error messages a result keeps, for the report."""


def nearest_rank(sorted_values: Sequence[int | float], percent: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``percent``% at or below it."""
    if not sorted_values:
        raise ValueError("no values")
    if not 0 < percent <= 100:
        raise ValueError("percent must be in (0, 100]")
    rank = math.ceil(percent / 100 * len(sorted_values))
    return float(sorted_values[max(rank, 1) - 1])


@dataclass(frozen=True)
class LoadResult:
    """What one load test measured. Latencies are in nanoseconds, sorted ascending."""

    requests: int
    concurrency: int
    latencies_ns: tuple[int, ...]
    errors: int
    wall_s: float
    error_samples: tuple[str, ...] = field(default=())
    per_worker_ns: tuple[tuple[int, ...], ...] = field(default=(), repr=False)
    """The same latencies grouped by the thread (or task) that made the calls, in order."""

    def percentile_ms(self, percent: float) -> float:
        """Nearest-rank percentile of the successful requests, in milliseconds."""
        return nearest_rank(self.latencies_ns, percent) / 1e6 if self.latencies_ns else math.inf

    @property
    def p50_ms(self) -> float:
        """Median latency in milliseconds."""
        return self.percentile_ms(50)

    @property
    def p95_ms(self) -> float:
        """95th percentile latency in milliseconds."""
        return self.percentile_ms(95)

    @property
    def p99_ms(self) -> float:
        """99th percentile latency in milliseconds."""
        return self.percentile_ms(99)

    @property
    def max_ms(self) -> float:
        """Slowest successful request in milliseconds."""
        return self.percentile_ms(100)

    @property
    def mean_ms(self) -> float:
        """Mean latency of the successful requests in milliseconds."""
        if not self.latencies_ns:
            return math.inf
        return sum(self.latencies_ns) / len(self.latencies_ns) / 1e6

    @property
    def error_rate(self) -> float:
        """Failed requests as a fraction of all requests."""
        return self.errors / self.requests if self.requests else 0.0

    @property
    def throughput_rps(self) -> float:
        """Completed requests per second of wall time."""
        return self.requests / self.wall_s if self.wall_s > 0 else math.inf

    def summary(self) -> LoadFigures:
        """The figures as plain values, as the report stores them."""

        def finite(value: float) -> float | None:
            return round(value, 6) if math.isfinite(value) else None

        return {
            "requests": self.requests,
            "concurrency": self.concurrency,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 6),
            "mean_ms": finite(self.mean_ms),
            "p50_ms": finite(self.p50_ms),
            "p95_ms": finite(self.p95_ms),
            "p99_ms": finite(self.p99_ms),
            "max_ms": finite(self.max_ms),
            "throughput_rps": finite(self.throughput_rps),
            "wall_s": round(self.wall_s, 6),
            "error_samples": list(self.error_samples),
        }


class _Tally:
    """Per-run error bookkeeping shared by the workers."""

    def __init__(self) -> None:
        self.errors = 0
        self.samples: list[str] = []
        self.lock = threading.Lock()

    def add(self, error: BaseException) -> None:
        text = f"{type(error).__name__}: {error}"[:300]
        with self.lock:
            self.errors += 1
            if len(self.samples) < ERROR_SAMPLES and text not in self.samples:
                self.samples.append(text)


def run_load(
    call: Callable[[], object], *, requests: int, concurrency: int, warmup: int = 0
) -> LoadResult:
    """Call ``call()`` ``requests`` times from ``concurrency`` threads; time each call.

    ``warmup`` untimed calls run first, one after another. The worker threads are daemons,
    so a call that never returns cannot keep the process alive after the check times out.
    """
    _validate(requests, concurrency, warmup)
    for _ in range(warmup):
        with contextlib.suppress(Exception):
            call()
    counter = itertools.count()
    tally = _Tally()
    per_worker: list[list[int]] = [[] for _ in range(concurrency)]
    start_gate = threading.Barrier(concurrency + 1)
    clock = time.perf_counter_ns

    def worker(samples: list[int]) -> None:
        start_gate.wait()
        while next(counter) < requests:
            started = clock()
            try:
                call()
            except Exception as error:
                tally.add(error)
                continue
            samples.append(clock() - started)

    threads = [
        threading.Thread(target=worker, args=(samples,), daemon=True, name=f"load-worker-{n}")
        for n, samples in enumerate(per_worker)
    ]
    for thread in threads:
        thread.start()
    start_gate.wait()
    began = clock()
    for thread in threads:
        thread.join()
    wall = (clock() - began) / 1e9
    return _result(requests, concurrency, per_worker, tally, wall)


async def run_load_async(
    call: Callable[[], Awaitable[object]], *, requests: int, concurrency: int, warmup: int = 0
) -> LoadResult:
    """Await ``call()`` ``requests`` times from ``concurrency`` tasks; time each await."""
    _validate(requests, concurrency, warmup)
    for _ in range(warmup):
        with contextlib.suppress(Exception):
            await call()
    counter = itertools.count()
    tally = _Tally()
    per_worker: list[list[int]] = [[] for _ in range(concurrency)]
    clock = time.perf_counter_ns

    async def worker(samples: list[int]) -> None:
        while next(counter) < requests:
            started = clock()
            try:
                await call()
            except Exception as error:
                tally.add(error)
                continue
            samples.append(clock() - started)

    began = clock()
    await asyncio.gather(*(worker(samples) for samples in per_worker))
    wall = (clock() - began) / 1e9
    return _result(requests, concurrency, per_worker, tally, wall)


def _validate(requests: int, concurrency: int, warmup: int) -> None:
    if requests < 1 or concurrency < 1 or warmup < 0:
        raise ValueError("requests and concurrency must be >= 1 and warmup >= 0")
    if concurrency > requests:
        raise ValueError("concurrency cannot exceed requests")


def _result(
    requests: int, concurrency: int, per_worker: list[list[int]], tally: _Tally, wall: float
) -> LoadResult:
    latencies = sorted(itertools.chain.from_iterable(per_worker))
    return LoadResult(
        requests=requests,
        concurrency=concurrency,
        latencies_ns=tuple(latencies),
        errors=tally.errors,
        wall_s=wall,
        error_samples=tuple(tally.samples),
        per_worker_ns=tuple(tuple(samples) for samples in per_worker),
    )
