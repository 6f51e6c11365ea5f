"""A pytest plugin for ``slow_tier.py``: the CPU seconds of each test, written to a file.

A test's CPU time is its process's user and system time over set-up, call and teardown,
plus that of the processes it waited for (the pytester runs' workers, the learner-tests
children), so a worker's figures add up to what it spent on its tests. Each process of the
run (every xdist worker) appends ``SECONDS NODEID`` lines to the file named by
:data:`OUTPUT_VARIABLE` when it ends. Loaded with ``-p benchmarks.cpu_by_test``.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

OUTPUT_VARIABLE = "TUTORIAL_BENCH_CPU_BY_TEST"
"""The environment variable naming the file the figures are appended to."""

_costs: list[tuple[float, str]] = []


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    """Record the CPU time the test's set-up, call and teardown took."""
    started = _cpu_seconds()
    yield
    _costs.append((_cpu_seconds() - started, item.nodeid))


def pytest_unconfigure() -> None:
    """Append this process's figures to the output file, if one is named."""
    path = os.environ.get(OUTPUT_VARIABLE)
    if path and _costs:
        with open(path, "a", encoding="utf-8") as output:
            output.writelines(f"{seconds:.3f} {nodeid}\n" for seconds, nodeid in _costs)
