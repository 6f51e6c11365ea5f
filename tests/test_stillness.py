"""hold_until: a held computation ends early only once the solution's threads cannot act."""

from __future__ import annotations

import _thread
import asyncio
import os
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest

from pytest_tutorial import Solution, SolutionWatch, hold_until, settle
from pytest_tutorial.isolation.remote import Worker
from pytest_tutorial.isolation.solutions import RemoteSolution

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(), reason="the early end reads Linux's /proc"
)

AT_MOST_S = 1.2
EARLY_S = 0.7
"""Far above the tenth of a second a still solution takes, far below the deadline."""


def _solution() -> Solution:
    return Solution(path=Path("."), kind="path", module=types.ModuleType("m"), exports=())


def _timed_hold(watch: SolutionWatch, event: threading.Event | None = None) -> float:
    started = time.monotonic()
    hold_until(event or threading.Event(), watch, at_most=AT_MOST_S)
    return time.monotonic() - started


def _start(target: Callable[[], object], count: int = 1) -> None:
    """Start ``count`` daemon threads running ``target`` and let them reach their wait."""
    for _ in range(count):
        threading.Thread(target=target, daemon=True).start()
    time.sleep(0.05)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at the end of the test: every thread a test started waits for it or ends."""
    event = threading.Event()
    yield event
    event.set()


def test_threads_parked_on_a_lock_end_the_hold_early() -> None:
    lock = threading.Lock()
    lock.acquire()
    watch = SolutionWatch(_solution())

    def wait_for_the_lock() -> None:
        with lock:
            pass

    _start(wait_for_the_lock, count=3)
    try:
        assert _timed_hold(watch) < EARLY_S
    finally:
        lock.release()


def _waits_with_a_timeout(release: threading.Event) -> None:
    release.wait(AT_MOST_S * 2)


def _naps(release: threading.Event) -> None:
    while not release.is_set():
        time.sleep(0.5)


def _spins(release: threading.Event) -> None:
    while not release.is_set():
        pass


@pytest.mark.parametrize(
    "behaviour", [_waits_with_a_timeout, _naps, _spins], ids=["timed-wait", "sleep", "busy"]
)
def test_a_thread_that_can_still_act_keeps_the_hold(
    release: threading.Event, behaviour: Callable[[threading.Event], None]
) -> None:
    watch = SolutionWatch(_solution())
    _start(lambda: behaviour(release))
    assert _timed_hold(watch) >= AT_MOST_S


def test_threads_from_before_the_watch_are_not_the_solutions(release: threading.Event) -> None:
    _start(lambda: _waits_with_a_timeout(release))
    assert _timed_hold(SolutionWatch(_solution())) < EARLY_S


def test_the_event_ends_the_hold_at_once() -> None:
    event = threading.Event()
    event.set()
    assert hold_until(event, SolutionWatch(_solution()), at_most=AT_MOST_S)


@pytest.mark.parametrize(
    ("body", "ends_early"),
    [("threading.Event().wait()", True), ("while True: pass", False)],
    ids=["parked", "busy"],
)
def test_a_workers_threads_are_watched_in_its_process(body: str, ends_early: bool) -> None:
    script = f"import threading\nprint(flush=True)\n{body}\n"
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        child.stdout.readline()
        worker = cast(Worker, types.SimpleNamespace(process=child))
        remote = RemoteSolution(
            path=Path("."), kind="path", module=types.ModuleType("m"), exports=(), worker=worker
        )
        assert (_timed_hold(SolutionWatch(remote)) < EARLY_S) is ends_early
    finally:
        child.kill()
        child.communicate()


def test_a_forked_process_first_thread_is_not_the_solutions() -> None:
    """In a fork, ``main_thread().native_id`` is the parent's: the thread is still the harness's.

    The forked process's first thread waits with a timeout (as a check joining its callers
    does) while another holds; the hold ends early as it does in an unforked process.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the hold's length through the pipe, then leave
        os.close(read)
        held: list[float] = []
        watch = SolutionWatch(_solution())
        holder = threading.Thread(target=lambda: held.append(_timed_hold(watch)))
        holder.start()
        holder.join(timeout=AT_MOST_S * 5)
        os.write(write, f"{held[0] if held else AT_MOST_S * 5}".encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        held_for = float(answer.read())
    os.waitpid(pid, 0)
    assert held_for < EARLY_S


SETTLE_AT_MOST_S = 0.4


def _timed_settle(setup: Callable[[], object] | None = None, watch_first: bool = True) -> float:
    """How long ``settle`` waits on a fresh loop after ``setup`` (run on it) made its tasks."""

    async def main() -> float:
        watch = SolutionWatch(_solution()) if watch_first else None
        if setup is not None:
            setup()
        await asyncio.sleep(0.01)  # the tasks reach their waits
        started = time.monotonic()
        await settle(watch or SolutionWatch(_solution()), at_most=SETTLE_AT_MOST_S)
        return time.monotonic() - started

    return asyncio.run(main())


def test_settle_ends_at_once_when_every_task_waits_without_a_timer() -> None:
    held = asyncio.Event

    def setup() -> None:
        for _ in range(3):
            asyncio.get_running_loop().create_task(held().wait())

    assert _timed_settle(setup) < SETTLE_AT_MOST_S / 4


def test_settle_ignores_timers_due_after_its_end() -> None:
    def setup() -> None:
        asyncio.get_running_loop().create_task(asyncio.sleep(SETTLE_AT_MOST_S * 10))

    assert _timed_settle(setup) < SETTLE_AT_MOST_S / 4


def test_a_timer_due_before_the_end_keeps_settle_waiting_until_it_fired() -> None:
    fired: list[float] = []

    async def later() -> None:  # a rate limiter's next token: a call may start then
        await asyncio.sleep(SETTLE_AT_MOST_S * 0.8)
        fired.append(time.monotonic())

    def setup() -> None:
        asyncio.get_running_loop().create_task(later())

    waited = _timed_settle(setup)
    assert fired
    assert waited >= SETTLE_AT_MOST_S * 0.7


def test_a_thread_started_during_the_watch_keeps_settle_waiting(
    release: threading.Event,
) -> None:
    def setup() -> None:
        threading.Thread(target=release.wait, daemon=True).start()

    assert _timed_settle(setup) >= SETTLE_AT_MOST_S


def test_a_native_thread_from_before_the_watch_does_not_keep_settle_waiting() -> None:
    """A thread no ``threading.Thread`` stands for (a library's pool, such as OpenBLAS's)."""
    parked = _thread.allocate_lock()
    parked.acquire()
    started = _thread.allocate_lock()
    started.acquire()

    def park() -> None:
        started.release()
        parked.acquire()

    _thread.start_new_thread(park, ())
    started.acquire()
    try:
        assert _timed_settle() < SETTLE_AT_MOST_S / 4
    finally:
        parked.release()


def test_settle_waits_the_whole_time_for_a_worker_served_solution() -> None:
    worker = cast(Worker, types.SimpleNamespace(process=types.SimpleNamespace(pid=os.getpid())))
    remote = RemoteSolution(
        path=Path("."), kind="path", module=types.ModuleType("m"), exports=(), worker=worker
    )

    async def main() -> float:
        started = time.monotonic()
        await settle(SolutionWatch(remote), at_most=SETTLE_AT_MOST_S)
        return time.monotonic() - started

    assert asyncio.run(main()) >= SETTLE_AT_MOST_S
