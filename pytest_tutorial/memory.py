"""Memory the learner's code keeps: bytes still held that its own files allocated.

:func:`allocations_in` traces allocations made by code inside the solution's folder while a
block runs, wherever that code runs: in this process (``--tutorial-isolation=process``) or
in the solution's worker, which traces itself on request (``worker``). In worker mode the
figure is the worker's word: code that tampers with ``tracemalloc`` there can hide what it
keeps, though never make an honest solution fail.
"""

from __future__ import annotations

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
