"""Checks of "All core functionality works correctly": exact allowance under concurrency."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

from pytest_tutorial import RedisBackend, as_plain_json
from pytest_tutorial.tutorials.rate_limiter.support import (
    ContendedRedis,
    decision_of,
    run_together,
)

CALLERS = 40
CONCURRENT_LIMIT = 10


@pytest.mark.checklist(
    "core",
    points=3,
    step=2,
    hint=[
        "40 threads hitting one key with limit 10 at once must get exactly 10 admissions",
        "reading the count and writing it back in two commands lets every thread read the "
        "same count: decide and record in one atomic step",
        "run the whole decision in one Lua script (register_script, then call it with "
        "keys=[redis_key] and args=[now_ms, window_ms, limit, member]); Redis runs a script "
        "atomically",
    ],
)
def test_concurrent_callers_get_exactly_the_limit(
    make_limiter: Callable[..., Any], redis_server: RedisBackend, redis_client: Any
) -> None:
    # A fakeredis client that yields before every command makes any read-then-write race
    # happen every time; a real server races on its own.
    real_server = redis_server.server is None
    client = redis_client if real_server else ContendedRedis(server=redis_server.server)
    limiter = make_limiter(client, limit=CONCURRENT_LIMIT)
    keys = ["shared", "other"]
    calls: list[Callable[[], Any]] = [
        functools.partial(limiter.hit, keys[n % 2]) for n in range(CALLERS)
    ]
    results = run_together(calls, "hit(key)")
    decisions = [decision_of(result, "hit(key)") for result in results]
    for parity, key in enumerate(keys):
        admitted = sum(1 for d in decisions[parity::2] if d["allowed"])
        assert admitted == CONCURRENT_LIMIT, (
            f"{CALLERS // 2} threads hitting {key!r} at once (limit {CONCURRENT_LIMIT}) got "
            f"{admitted} admissions, expected exactly {CONCURRENT_LIMIT}: the check and the "
            "update must be one atomic step"
        )
    metrics = as_plain_json(limiter.metrics(), what="metrics()")
    expected = {"allowed": 2 * CONCURRENT_LIMIT, "denied": CALLERS - 2 * CONCURRENT_LIMIT}
    assert metrics == {**expected, "errors": 0}, (
        f"after {CALLERS} concurrent hits metrics() returned {metrics}, expected "
        f"{ {**expected, 'errors': 0} }: count under a lock"
    )
