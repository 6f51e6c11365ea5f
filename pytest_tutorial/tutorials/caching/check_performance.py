"""Checks of "Performance meets requirements": p95 of cached reads under concurrent load."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from pytest_tutorial import LoadRunner, RedisBackend, Solution
from pytest_tutorial.tutorials.caching.support import Computation

HOT_KEYS = 20


@pytest.mark.checklist(
    "performance",
    points=3,
    step=4,
    timeout=60,
    hint="cached reads should be served from the local LRU without a Redis round trip or a "
    "global lock held during compute",
)
def test_p95_of_cached_reads_under_concurrent_load(
    service_factory: Callable[..., Any], load_runner: LoadRunner, redis_server: RedisBackend
) -> None:
    computations: list[Computation] = []  # the learner's first, then the reference's

    def cached_reads(implementation: Solution) -> Callable[[], object]:
        """A warmed service of ``implementation`` on a Redis of its own, and a request
        reading one of its hot keys (the reference must never see the learner's values)."""
        own_redis = redis_server.separate().client()
        service = service_factory(implementation, own_redis, local_max_entries=64)
        compute = Computation({"payload": [1, 2]})
        computations.append(compute)
        keys = itertools.cycle([f"item:{n}" for n in range(HOT_KEYS)])
        for _ in range(HOT_KEYS):
            service.get_or_compute(next(keys), compute)
        return lambda: service.get_or_compute(next(keys), compute)

    load_runner.judge(cached_reads, name="cached reads")
    learner = computations[0]
    assert learner.calls == HOT_KEYS, (
        f"under load the {HOT_KEYS} cached keys were recomputed {learner.calls - HOT_KEYS} time(s)"
    )
