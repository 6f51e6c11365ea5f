"""Memory the learner's code keeps: bytes still held that its own files allocated.

:func:`allocations_in` traces allocations made by code inside the solution's folder while a
block runs, wherever that code runs: in this process (``--tutorial-isolation=process``) or
in the solution's worker, which traces itself on request (``worker``). In worker mode the
figure is the worker's word: code that tampers with ``tracemalloc`` there can hide what it
keeps, though never make an honest solution fail.
"""

from __future__ import annotations

import contextlib
import inspect
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Tracing:
    """Allocations by code in one folder since :meth:`start` (freed memory excluded)."""

    def __init__(self, folder: Path) -> None:
        patterns = sorted({f"{folder}/*", f"{folder.resolve()}/*"})
        self.filters = [tracemalloc.Filter(True, pattern) for pattern in patterns]
        self.started_here = not tracemalloc.is_tracing()
        if self.started_here:
            tracemalloc.start()
        self.before = tracemalloc.take_snapshot().filter_traces(self.filters)

    def grown(self) -> int:
        """Bytes still held, allocated by the folder's code since the start."""
        after = tracemalloc.take_snapshot().filter_traces(self.filters)
        return sum(stat.size_diff for stat in after.compare_to(self.before, "filename"))

    def stop(self) -> None:
        """Stop tracing, unless it was on before."""
        if self.started_here:
            tracemalloc.stop()


@contextmanager
def allocations_in(solution: Any) -> Iterator[Callable[[], int]]:
    """Trace while the block runs: the callable gives the bytes the solution's code holds.

    Only what its own files allocated since the block began and still hold counts.
    ``solution`` is the ``solution`` fixture (or ``reference_solution``).
    """
    worker = getattr(solution, "worker", None)
    if worker is None:
        tracing = Tracing(Path(solution.path))
        try:
            yield tracing.grown
        finally:
            tracing.stop()
        return
    from pytest_tutorial.isolation import protocol

    worker.request(protocol.MEMORY, action="start", folder=str(solution.path))
    try:
        yield lambda: int(worker.request(protocol.MEMORY, action="grown"))
    finally:
        worker.request(protocol.MEMORY, action="stop")


def allocations_after(
    solution: Any,
    request: Callable[[], object],
    count: int,
    *,
    warmup: int = 0,
    expected: tuple[type[BaseException], ...] = (),
) -> int:
    """Bytes the solution's code still holds after ``count`` requests, ``warmup`` more first.

    ``request`` makes one call of a plain (not async) function or method of the learner's
    code each time it is called, as a load test's request does; the warm-up requests run
    untraced, so that caches and tables reach their steady size. An exception of
    ``expected`` ends its call only; any other fails the check as the call would. In worker
    mode the requests are recorded here and replayed in the worker
    (:mod:`pytest_tutorial.isolation.worker_memory`): pass :class:`~pytest_tutorial.Returns`
    or :class:`~pytest_tutorial.Raises` as the functions the learner's code calls back, so
    those calls stay in the worker too.
    """
    worker = getattr(solution, "worker", None)
    if worker is None:
        return held_after_calls(
            lambda: plain_call(request, (), {}), warmup, count, Path(solution.path), expected
        )
    from pytest_tutorial.isolation import protocol
    from pytest_tutorial.isolation.errors import class_info
    from pytest_tutorial.isolation.load_check import Tampered
    from pytest_tutorial.isolation.replay import record

    target, calls = record(request, warmup + count)
    grown = target.worker.request(
        protocol.MEMORY,
        action="replay",
        target=target.handle,
        name=target.name,
        calls=target.worker.codec.encode([[list(args), kwargs] for args, kwargs in calls]),
        warmup=warmup,
        expected=[class_info(kind) for kind in expected],
        folder=str(solution.path),
    )
    if type(grown) is not int:
        raise Tampered(f"the worker answered a memory measurement with {str(grown)[:100]}")
    return grown


def held_after_calls(
    call: Callable[[], object],
    warmup: int,
    count: int,
    folder: Path,
    expected: tuple[type[BaseException], ...],
) -> int:
    """Make ``warmup`` calls, then ``count`` under tracing; bytes ``folder``'s code still holds.

    An exception of ``expected`` ends its call only. Both modes of :func:`allocations_after`
    measure with it: here, and in the worker (:mod:`.isolation.worker_memory`).
    """
    for _ in range(warmup):
        with contextlib.suppress(*expected):
            call()
    tracing = Tracing(folder)
    try:
        for _ in range(count):
            with contextlib.suppress(*expected):
                call()
        return tracing.grown()
    finally:
        tracing.stop()


def plain_call(function: Callable[..., object], args: Any, kwargs: Any) -> object:
    """``function(*args, **kwargs)``; a TypeError if it returns an awaitable (never awaited)."""
    result = function(*args, **kwargs)
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise TypeError("allocations_after() makes calls of plain functions, not async ones")
    return result
