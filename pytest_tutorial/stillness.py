"""Waiting for an event, or until the threads that run a solution's code can no longer act.

A check that holds a computation open until every other caller is waiting for it (the
caching tutorial's single-flight check) cannot know when a correct design's callers have
all parked: with only a deadline it waits the whole deadline on every correct solution.
:func:`hold_until` ends that wait early once nothing can happen any more without the
held computation: for :data:`STILL_FOR_S` on end,

- no watched thread is runnable (``R``, which includes waiting for a CPU on a busy
  machine) or in the disk's uninterruptible wait, and together they used next to no CPU
  between two readings, so a caller held up by the scheduler keeps the wait going;
- no thread of the solution's code sleeps with a timer (``time.sleep``, a lock or
  event waited for with a timeout, ``select`` with a timeout...): such a thread could give
  up waiting and act on its own, so the deadline decides, as it would without this module.

The solution's threads are those its code runs in: threads of this process started since
the watch began (:class:`SolutionWatch`) or, for a solution served by a worker, every
thread of the worker and of what it started. This process's new threads then only
forward calls, and servers beside it (a real redis-server) only have to be idle. It reads
Linux's ``/proc`` (x86-64 and arm64 system call numbers); elsewhere, or where a thread's
system call cannot be read, the deadline alone decides.

:func:`settle` is the same for an asyncio check that waits to see whether a design does
something it must not (start a call too many while others are held): it ends the wait
once nothing on the event loop could act before the wait would end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_tutorial.solution import Solution

PROC = Path("/proc")
STILL_FOR_S = 0.1
"""How long every watched thread must stay parked before the wait ends."""
SAMPLE_EVERY_S = 0.01
"""How often the threads are read."""
IDLE_CPU_NS = 300_000
"""CPU time the watched threads may use between two readings and still count as idle:
a harness poller that wakes up to find nothing to do uses a few microseconds."""
BUSY_STATES = frozenset("RD")
"""A thread in these states runs, waits for a CPU, or waits for the disk."""
READ_ATTEMPTS = 5
NO_TIMEOUT = frozenset({"0xffffffff", "0xffffffffffffffff"})
"""How ``/proc`` shows a timeout of -1 milliseconds (``poll``, ``epoll_wait``: none)."""

_TIMED_CALLS: dict[str, dict[int, tuple[int, bool]]] = {
    # system call number: (the timeout argument's index, whether NULL (0) means none;
    # otherwise -1 does); a sleep's "timeout" is never absent.
    "x86_64": {
        202: (3, True),  # futex
        7: (2, False),  # poll
        23: (4, True),  # select
        232: (3, False),  # epoll_wait
        281: (3, False),  # epoll_pwait
        271: (2, True),  # ppoll
        270: (4, True),  # pselect6
        35: (0, False),  # nanosleep
        230: (2, False),  # clock_nanosleep
    },
    "aarch64": {
        98: (3, True),  # futex
        22: (3, False),  # epoll_pwait
        73: (2, True),  # ppoll
        72: (4, True),  # pselect6
        101: (0, False),  # nanosleep
        115: (2, False),  # clock_nanosleep
    },
}
_SLEEPS = {"x86_64": frozenset({35, 230}), "aarch64": frozenset({101, 115})}


def _native_ids() -> frozenset[int]:
    """The threads running now, by kernel id, the process's first thread included.

    Every thread of the process counts, not only Python's: a library may start native ones
    when it is imported (numpy's OpenBLAS pool, which fakeredis imports when numpy is
    installed), and such a thread, parked for the whole run, would otherwise count as the
    solution's and keep every wait to its deadline. The first thread's id is the process id
    as such, because a process forked from a warm server keeps the server's id in
    ``threading.main_thread().native_id`` (Python does not refresh it after a fork).
    """
    running = {thread.native_id for thread in threading.enumerate() if thread.native_id}
    with contextlib.suppress(OSError):
        running.update(_tasks(os.getpid()))
    return frozenset({*running, os.getpid(), threading.get_native_id()})


@dataclass(frozen=True)
class SolutionWatch:
    """Which threads run a solution's code, fixed before the check starts its callers.

    ``solution`` is the :class:`~pytest_tutorial.Solution` (its worker, if it has one);
    ``servers`` the ids of server processes its calls wait on (``redis_server.processes``).
    """

    solution: Solution
    servers: tuple[int, ...] = ()
    before: frozenset[int] = field(default_factory=_native_ids)
    """The threads of this process that are the harness's, not the solution's."""


def hold_until(event: threading.Event, watch: SolutionWatch, *, at_most: float) -> bool:
    """Wait for ``event`` until the watched threads can no longer act, ``at_most`` seconds.

    Returns whether ``event`` is set. Call it from the thread that holds the computation
    (that thread is never watched).
    """
    deadline = time.monotonic() + at_most
    workers = watch.solution.processes
    caller = (os.getpid(), threading.get_native_id())
    still_since: float | None = None
    previous = _reading(watch, workers, caller)
    while not event.wait(SAMPLE_EVERY_S):
        now = time.monotonic()
        if now >= deadline:
            return event.is_set()
        current = _reading(watch, workers, caller)
        if previous is not None and current is not None and _still(previous, current):
            still_since = now if still_since is None else still_since
            if now - still_since >= STILL_FOR_S:
                return event.is_set()
        else:
            still_since = None
        previous = current
    return True


@dataclass(frozen=True)
class _Thread:
    state: str
    cpu_ns: int
    parked: bool
    """Not sleeping with a timer (only asked of the solution's threads)."""


_Reading = dict[tuple[int, int], _Thread]


def _still(previous: _Reading, current: _Reading) -> bool:
    """Whether no thread started, acts or has a timer, and they used next to no CPU since."""
    if not current.keys() <= previous.keys():
        return False
    if any(thread.state in BUSY_STATES or not thread.parked for thread in current.values()):
        return False
    used = sum(thread.cpu_ns - previous[task].cpu_ns for task, thread in current.items())
    return used <= IDLE_CPU_NS


def _reading(
    watch: SolutionWatch, workers: tuple[int, ...], caller: tuple[int, int]
) -> _Reading | None:
    """The watched threads now; None where ``/proc`` cannot tell.

    A thread or a process that ends while being read makes the reading start again.
    """
    pid = caller[0]
    for _ in range(READ_ATTEMPTS):
        reading: _Reading = {}
        try:
            for task in _tasks(pid):
                key = (pid, task)
                if key != caller and task not in watch.before:
                    reading[key] = _thread(pid, task, solution=not workers)
            for process in _with_descendants(workers):
                for task in _tasks(process):
                    reading[(process, task)] = _thread(process, task, solution=True)
            for process in _with_descendants(watch.servers):
                for task in _tasks(process):
                    reading[(process, task)] = _thread(process, task, solution=False)
        except FileNotFoundError:
            continue
        except (OSError, ValueError, IndexError):
            return None
        return reading
    return None


def _tasks(pid: int) -> list[int]:
    return [int(task.name) for task in (PROC / str(pid) / "task").iterdir()]


def _with_descendants(roots: Iterable[int]) -> list[int]:
    """``roots`` and every process started under them, from ``/proc/PID/task/TID/children``."""
    found: list[int] = []
    pending = list(roots)
    while pending:
        pid = pending.pop()
        if pid in found:
            continue
        found.append(pid)
        for task in _tasks(pid):
            children = PROC / str(pid) / "task" / str(task) / "children"
            pending.extend(int(child) for child in children.read_text().split())
    return found


def _thread(pid: int, task: int, *, solution: bool) -> _Thread:
    """A thread's state letter (after its name, which may hold spaces), CPU time and timer."""
    folder = PROC / str(pid) / "task" / str(task)
    stat = (folder / "stat").read_text()
    state = stat[stat.rindex(")") + 2]
    cpu_ns = int((folder / "schedstat").read_text().split()[0])
    parked = not solution or state in BUSY_STATES or _waits_without_timer(folder)
    return _Thread(state, cpu_ns, parked)


def _waits_without_timer(folder: Path) -> bool:
    """Whether the thread's system call waits with no timeout (False when unknown)."""
    calls = _TIMED_CALLS.get(platform.machine())
    if calls is None:
        return False
    try:
        fields = (folder / "syscall").read_text().split()
    except PermissionError:
        return False
    if not fields or not fields[0].isdigit():
        return False  # "running", or blocked outside a system call (-1): cannot tell
    number = int(fields[0])
    if number not in calls:
        return True  # a read, a recv, a wait for a child: no timer
    if number in _SLEEPS[platform.machine()]:
        return False
    index, null_means_none = calls[number]
    timeout = fields[1 + index]
    return timeout == "0x0" if null_means_none else timeout in NO_TIMEOUT


LOOP_SAMPLE_S = 0.005
"""How often :func:`settle` reads the loop again while something on it can still act."""
LOOP_TURNS = 3
"""Loop turns given to ready callbacks before :func:`settle` reads the loop."""


async def settle(watch: SolutionWatch, *, at_most: float) -> None:
    """Sleep ``at_most`` seconds on the running loop, or less when nothing can act before then.

    The sleep ends once nothing could happen before it would end anyway: no callback is
    ready on the loop, no timer falls due before the deadline (a solution's
    ``asyncio.sleep``, a rate limiter's next token, a retry's backoff), the loop waits on
    no file but its own wake-up pipe, and no thread of this process started since
    ``watch`` began. The loop would only sleep until the deadline, so ending early changes
    nothing the check can observe. With a solution served by a worker (its loop runs
    there), or a loop whose queues cannot be read (not asyncio's own), the whole time is
    slept.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + at_most
    if watch.solution.processes or not _loop_readable(loop):
        await asyncio.sleep(at_most)
        return
    while (left := deadline - loop.time()) > 0:
        for _ in range(LOOP_TURNS):
            await asyncio.sleep(0)
        if _loop_still(loop, deadline, watch):
            return
        await asyncio.sleep(min(LOOP_SAMPLE_S, left))


_LOOP_PARTS = ("_ready", "_scheduled", "_selector", "_ssock")
"""What :func:`settle` reads of asyncio's own loops (``BaseEventLoop``, the selector loop)."""


def _loop_readable(loop: asyncio.AbstractEventLoop) -> bool:
    return all(hasattr(loop, part) for part in _LOOP_PARTS) and PROC.is_dir()


def _loop_still(loop: asyncio.AbstractEventLoop, deadline: float, watch: SolutionWatch) -> bool:
    """Whether nothing on ``loop`` or in a new thread can act before ``deadline``."""
    parts: Any = loop
    if parts._ready:
        return False
    due = deadline + LOOP_SAMPLE_S
    if any(not timer.cancelled() and timer.when() < due for timer in parts._scheduled):
        return False
    try:
        files = {key.fd for key in parts._selector.get_map().values()}
        if files - {parts._ssock.fileno()}:
            return False
        current = threading.get_native_id()
        return all(task in watch.before or task == current for task in _tasks(os.getpid()))
    except (OSError, ValueError, AttributeError):
        return False
