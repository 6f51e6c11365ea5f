"""Checks of "Performance meets requirements": p95 of hit() under concurrent load."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from pytest_tutorial import LoadRunner, RedisBackend, Solution, as_plain_json

HOT_KEYS = 20


@pytest.mark.checklist(
    "performance",
    points=3,
    step=3,
    timeout=60,
    hint=[
        "one hit should be one round trip to Redis: a single script call that trims, counts, "
        "records and sets the TTL",
        "no lock held around the Redis call, no sleep, no SCRIPT LOAD or KEYS per request: "
        "register the script once in __init__",
    ],
)
def test_p95_of_hits_under_concurrent_load(
    limiter_factory: Callable[..., Any], load_runner: LoadRunner, redis_server: RedisBackend
) -> None:
    limiters: list[Any] = []  # the learner's first, then the reference's

    def hits(implementation: Solution) -> Callable[[], object]:
        """A limiter of ``implementation`` on a Redis of its own and a request hitting one
        of its hot keys (the reference must never touch the learner's counts)."""
        own_redis = redis_server.separate().client()
        limiter = limiter_factory(implementation, own_redis, limit=1_000_000)
        limiters.append(limiter)
        keys = itertools.cycle([f"client:{n}" for n in range(HOT_KEYS)])
        return lambda: limiter.hit(next(keys))

    load_runner.judge(hits, name="hit() on 20 hot keys")
    metrics = as_plain_json(limiters[0].metrics(), what="metrics() after the load test")
    assert (metrics.get("denied"), metrics.get("errors")) == (0, 0), (
        f"under a limit of 1,000,000 the load test's hits were refused or failed: {metrics}"
    )
