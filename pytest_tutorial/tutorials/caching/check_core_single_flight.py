"""Checks of "All core functionality works correctly" under concurrency: single-flight.

Each check waits for an event it can observe (a second computation starting, a call
returning while another is held) with a generous deadline, never for a timing window:
a correct design passes however slowly the machine runs, and a wrong one is caught as
soon as it shows. The hot key's computation stays open until a second one starts or
until the solution's threads can no longer act (every caller parked with no timer,
nothing runnable: :func:`~pytest_tutorial.hold_until`), so a correct design waits a tenth
of a second, not the whole deadline.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from pytest_tutorial import (
    Raises,
    RedisBackend,
    Returns,
    Solution,
    SolutionWatch,
    allocations_after,
    assert_same_json,
    hold_until,
)
from pytest_tutorial.tutorials.caching.support import (
    BackendUnavailable,
    Caller,
)

HOLD_S = 1.0
"""How long the first computation of a hot key stays open at most, unless a second one
starts or the solution goes still first."""
DEADLINE_S = 5.0
"""How long a call that must not wait is given to return."""
DISTINCT_KEYS = 150
"""Keys read once each (and as many computations that fail) by the lock-table check.

Each traced read costs about 0.5 ms (``tracemalloc`` triples a read's cost), so the check
reads no more keys than its limit needs: a lock and its count kept per key leave about
180 bytes a key, a count's entry alone about 50."""
LEAK_LIMIT_BYTES = 8 * 1024
"""Memory the solution's own code may keep after those reads: 27 bytes a key, far below
a lock kept per key, and four times what the reference and the alternative designs of the
project's tests keep (2 KiB at most, the same for 150 keys as for 300)."""


@pytest.mark.checklist(
    "core",
    points=2,
    step=3,
    timeout=20,
    hint="single-flight: a per-key lock so "
    "concurrent callers of one missing key wait for one computation",
)
def test_concurrent_callers_of_one_key_compute_once(
    service: Any, solution: Solution, redis_server: RedisBackend
) -> None:
    callers = 10
    gate = threading.Barrier(callers)
    guard = threading.Lock()
    second_started = threading.Event()
    calls: list[int] = []
    watch = SolutionWatch(solution, servers=redis_server.processes)

    def slow_compute() -> Any:
        with guard:
            calls.append(1)
            if len(calls) > 1:
                second_started.set()
        # hold the flight open until a second one starts, or until none can start
        hold_until(second_started, watch, at_most=HOLD_S)
        return {"value": "expensive"}

    threads = [
        Caller(
            lambda: service.get_or_compute("hot", slow_compute),
            f"caller {n}'s get_or_compute('hot', compute)",
            gate,
        )
        for n in range(callers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    for thread in threads:
        assert_same_json(thread.outcome(), {"value": "expensive"}, what=f"{thread.what}'s result")
    assert len(calls) == 1, (
        f"{callers} concurrent get_or_compute('hot', compute) calls ran compute() {len(calls)} "
        "times, expected once: the others should wait for the first and read its value"
    )


@pytest.mark.checklist(
    "core", step=3, timeout=30, hint="use one lock per key, not one lock for every computation"
)
def test_callers_of_other_keys_do_not_wait(service: Any) -> None:
    release = threading.Event()
    started = threading.Event()

    def blocked() -> Any:
        started.set()
        release.wait(DEADLINE_S * 2)
        return "slow"

    slow = Caller(lambda: service.get_or_compute("slow", blocked), "get_or_compute('slow', ...)")
    fast = Caller(lambda: service.get_or_compute("fast", lambda: "fast"), "get_or_compute('fast')")
    slow.start()
    try:
        while not started.wait(0.02):
            if not slow.is_alive():
                slow.outcome()
                pytest.fail("get_or_compute('slow', compute) returned without calling compute()")
        fast.start()
        fast.join(DEADLINE_S)
        waited = fast.is_alive()
    finally:
        release.set()
        slow.join(DEADLINE_S)
        if fast.ident is not None:
            fast.join(DEADLINE_S)
    assert not waited, (
        f"get_or_compute('fast', compute) did not return within {DEADLINE_S:g} s while "
        "compute() of another key, 'slow', was still running: a computation must hold only "
        "its own key's lock"
    )
    assert_same_json(fast.outcome(), "fast", what="get_or_compute('fast', ...)")
    assert_same_json(slow.outcome(), "slow", what="get_or_compute('slow', ...)")


@pytest.mark.checklist(
    "core",
    step=3,
    timeout=60,
    hint="drop a key's lock when its last caller leaves (count the callers holding or "
    "waiting for it), or a process that sees millions of keys keeps millions of locks",
)
def test_per_key_locks_do_not_pile_up(solution: Solution, make_service: Callable[..., Any]) -> None:
    service = make_service()
    failing = Raises(BackendUnavailable, "backend unavailable")

    # Memory says nothing about a service that keeps nothing because it does nothing.
    assert_same_json(
        service.get_or_compute("probe", Returns(7)), 7, what="get_or_compute('probe', compute)"
    )
    with pytest.raises(BackendUnavailable):
        service.get_or_compute("probe:failing", failing)

    def reads(prefix: str) -> Callable[[], object]:
        """Each request reads a new key: in turn one that computes and one that fails."""
        numbers = itertools.count()

        def read() -> object:
            n = next(numbers)
            if n % 2:
                return service.get_or_compute(f"{prefix}:failing:{n // 2}", failing)
            return service.get_or_compute(f"{prefix}:ok:{n // 2}", Returns(n // 2))

        return read

    warm_up = 100  # the LRU and every table reach their steady size first
    disabled_before = logging.root.manager.disable
    logging.disable(logging.CRITICAL)  # captured log records would hold the calls' arguments
    try:
        grown = allocations_after(
            solution,
            reads("read"),
            2 * DISTINCT_KEYS,
            warmup=warm_up,
            expected=(BackendUnavailable,),
        )
    finally:
        logging.disable(disabled_before)
    assert grown <= LEAK_LIMIT_BYTES, (
        f"after get_or_compute() of {2 * DISTINCT_KEYS} distinct keys, once each (half of "
        f"them with a compute() that raised), your code holds {grown / 1024:.0f} KiB more "
        f"than before (about {grown // (2 * DISTINCT_KEYS)} bytes per key; at most "
        f"{LEAK_LIMIT_BYTES // 1024} KiB expected): something is kept per key, such as a "
        "lock per key that is never removed"
    )
