"""Checks of "Performance meets requirements": p95 of cached reads under concurrent load."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from pytest_tutorial.fixtures.core import LoadRunner
from pytest_tutorial.tutorials.caching.support import Computation

HOT_KEYS = 20


@pytest.mark.checklist(
    "performance",
    points=3,
    step=4,
    timeout=60,
    hint="cached reads should be "
    "served from the local LRU without a Redis round trip or a global lock "
    "held during compute",
)
def test_p95_of_cached_reads_under_concurrent_load(
    make_service: Callable[..., Any], load_runner: LoadRunner
) -> None:
    service = make_service(local_max_entries=64)
    compute = Computation({"payload": list(range(20))})
    keys = itertools.cycle([f"item:{n}" for n in range(HOT_KEYS)])
    for _ in range(HOT_KEYS):
        service.get_or_compute(next(keys), compute)

    result = load_runner.run(
        lambda: service.get_or_compute(next(keys), compute), name="cached reads"
    )
    load_runner.assert_meets_target(result)
    assert compute.calls == HOT_KEYS, (
        f"under load the {HOT_KEYS} cached keys were recomputed {compute.calls - HOT_KEYS} time(s)"
    )
