"""A worker's process, however it was started: a child of this process or a fork of a warm one.

:class:`~pytest_tutorial.isolation.remote.Worker` starts its worker as a child of the
trusted process (:class:`ChildProcess`) or, where a warm server is at hand (a grader's job
slot, a run's learner-tests server), takes one that server forked
(:class:`~pytest_tutorial.isolation.forked_worker.ForkedWorker`).
Either way the trusted side needs the same four things of it: its pid (checks watch its
threads), whether it has ended, a way to end it with every process it started, and how it
ended, with its figures (:class:`~.exits.WorkerExit`).
"""

from __future__ import annotations

import subprocess
from typing import Protocol

from pytest_tutorial.isolation.exits import REAP_WITHIN_S, WorkerExit, reap
from pytest_tutorial.warm import kill_group


class WorkerProcess(Protocol):
    """The process of one worker generation."""

    @property
    def pid(self) -> int:
        """Its pid, as this process sees it."""
        ...

    def poll(self) -> int | None:
        """Its exit status once it has ended (negative: the signal), else None."""
        ...

    def kill(self) -> None:
        """SIGKILL it and every process of its group, and wait until it is gone."""
        ...

    def reap(self, within_s: float = REAP_WITHIN_S) -> WorkerExit:
        """Wait up to ``within_s`` for it to end; its status and figures."""
        ...


class ChildProcess:
    """A worker started as a child of this process (in a session of its own)."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen

    @property
    def pid(self) -> int:
        """The child's pid."""
        return self.popen.pid

    def poll(self) -> int | None:
        """The child's exit status once it has ended, else None."""
        return self.popen.poll()

    def kill(self) -> None:
        """SIGKILL the child's process group and reap the child."""
        kill_group(self.popen.pid)
        self.popen.wait()

    def reap(self, within_s: float = REAP_WITHIN_S) -> WorkerExit:
        """The child's end as ``os.wait4`` reports it (:func:`~.exits.reap`)."""
        return reap(self.popen, within_s)
