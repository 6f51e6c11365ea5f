"""When a run of the learner's tests may start: one per core, and one more per idle core.

The runs (:func:`pytest_tutorial.learner_tests.run_many`) share the machine with the
checks' process. One run per core at a time keeps the cores busy while the runs compute,
but a run whose test sleeps (a TTL running out, a timeout, an asyncio delay) holds a core
it does not use, and once the checks wait for the runs, the runs are all that is left. So
a further run, up to two per core, starts whenever the machine has an idle core: fewer
runnable tasks than cores, as Linux counts them in ``/proc/loadavg``. A busy machine shows
no idle core, so no further run starts there; where the count cannot be read, it is one
run per core. Not under ``grade``: there a submission's processes and threads are
counted against one limit (``--processes``), which a test that starts many threads could
reach only because more of its runs ran at once.

Such a further run takes a core that was idle when it started; it must not take it from
the checks' process when that wakes. So it runs at a lower priority
(:func:`lower_priority`); the runs within one per core keep the priority they always had.
Measured with the whole tutorials (docs/benchmarks.md, "Ninth round").

Runs start in the order of their ranks: each waits until every lower rank has started or
been given up, whichever thread the operating system readies or wakes first, so the
caller decides which runs go first.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

LOAD_FILE = Path("/proc/loadavg")
AUTOGROUP_FILE = Path("/proc/self/autogroup")
POLL_S = 0.01
"""How often a run waiting for a slot looks for an idle core."""
FURTHER_RUN_NICENESS = 10
"""The niceness of a run started beyond one per core: about a tenth of a core's share."""


def idle_core(cores: int, load_file: Path = LOAD_FILE) -> bool:
    """Whether fewer tasks than ``cores`` are runnable, this reading thread aside.

    The fourth field of ``/proc/loadavg`` is ``runnable/total``, and the reader counts
    itself. False when the file cannot be read (another system).
    """
    try:
        runnable = int(load_file.read_bytes().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return False
    return runnable - 1 < cores


def lower_priority(niceness: int, autogroup_file: Path = AUTOGROUP_FILE) -> None:
    """Make this process ``niceness`` nicer, where Linux weighs it too.

    Linux with session autogroups (the default of most distributions) shares the CPU
    between sessions first, and each run is a session of its own, so the session's group
    gets the niceness as well as the process. Errors are ignored: a run at its usual
    priority is still a correct run.
    """
    if niceness <= 0:
        return
    with contextlib.suppress(OSError):
        autogroup_file.write_text(str(niceness), encoding="ascii")
    with contextlib.suppress(OSError):
        os.nice(niceness)


class RunSlots:
    """One run per core, and with ``further``, up to two per core while a core is idle.

    Runs given ranks (0, 1, 2, ...) start in rank order: a run waits until every lower rank
    has started or been given up (:meth:`give_up`), so the caller decides which go first,
    whichever thread the operating system wakes or readies first.
    """

    def __init__(
        self,
        cores: int,
        *,
        further: bool = True,
        has_idle_core: Callable[[int], bool] | None = None,
    ) -> None:
        self.cores = max(1, cores)
        self.most = self.cores * (2 if further else 1)
        self._has_idle_core = has_idle_core or idle_core
        self._running = 0
        self._turn = 0
        """The lowest rank neither started nor given up: the next to start."""
        self._settled: set[int] = set()
        """The ranks above the turn that started or were given up."""
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def slot(self, rank: int | None = None) -> Iterator[bool]:
        """Wait until a run may start and hold its slot; True for a run beyond one per core.

        A run with a ``rank`` also waits for its turn.
        """
        with self._changed:
            while True:
                my_turn = rank is None or rank <= self._turn
                further = self._running >= self.cores
                room = self._running < self.most
                if my_turn and (not further or (room and self._has_idle_core(self.cores))):
                    break
                # Only a run whose turn it is looks for an idle core; the others sleep until
                # a run starts or ends (each thread's polling takes the checks' GIL).
                self._changed.wait(POLL_S if my_turn and room else None)
            self._running += 1
            if rank is not None:
                self._settle(rank)
        try:
            yield further
        finally:
            with self._changed:
                self._running -= 1
                self._changed.notify_all()

    def give_up(self, rank: int) -> None:
        """``rank`` will not start (again): the ranks after it need not wait for it."""
        with self._changed:
            self._settle(rank)

    def _settle(self, rank: int) -> None:
        """Mark ``rank`` started or given up, and pass the turn on (the lock held)."""
        if rank < self._turn:
            return
        self._settled.add(rank)
        while self._turn in self._settled:
            self._settled.remove(self._turn)
            self._turn += 1
        self._changed.notify_all()
