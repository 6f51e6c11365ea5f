"""How the trusted process starts a process that runs learner code when grading.

In the trusted-process design the checks, pytest and the fakes stay in the grading child,
which never imports the learner's code; a worker (:mod:`pytest_tutorial.isolation`) does.
:class:`LearnerBox` is that worker's containment, the same as a grading child's today and
a little more: bubblewrap's view of the system (:class:`~.sandbox.BwrapCommand`: no
network, no other process, a read-only interpreter and package, the tutorial's checks,
known bugs and references covered), the batch's resource limits, and, as root, the job
slot's own uid, all entered before the first line of learner code runs (:mod:`.enter`).
The only folders it can write are its tmpfs ``/tmp`` and the ``shared`` ones, bound at
the same path so that paths mean the same on both sides: the copy of the submission it
imports, and the folder of the Unix sockets through which it reaches the check's fakes.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_tutorial.grading import sandbox
from pytest_tutorial.grading.usage import oom_kills
from pytest_tutorial.isolation.exits import WorkerExit, plain_description

if TYPE_CHECKING:
    from pytest_tutorial.isolation.worker_process import WorkerProcess
    from pytest_tutorial.warm import WarmServer

ENTER_MODULE = "pytest_tutorial.grading.enter"
LEARNER_TMP_MB = 64
"""The tmpfs ``/tmp`` of a learner process (its home and temporary files)."""


@dataclass(frozen=True)
class LearnerBox:
    """The containment of one submission's learner processes."""

    limits: sandbox.Limits
    bwrap: str | None = None
    """Bubblewrap's path, or None where it cannot run (limits and uid only)."""
    uid: int | None = None
    """The job slot's uid to drop to (as root), or None to keep the caller's."""
    hidden: tuple[Path, ...] = ()
    """Host folders covered by an empty tmpfs inside the sandbox."""
    shared: tuple[Path, ...] = ()
    """Host folders the learner process may write, bound at the same path."""
    marker: str = ""
    """The run's marker (:data:`~.sandbox.MARKER_VARIABLE`): the cleanup finds strays by it."""
    oom_kills_before: int | None = field(default_factory=oom_kills)
    """The machine's OOM-kill count when the box was made (a later rise names the killer)."""
    slot_socket: Path | None = None
    """The job slot's warm server, which forks the server of the test runs and the worker
    (no bubblewrap of the box's own: the forks are in the slot's sandbox); None: they start
    cold."""

    def prefix(self, cwd: Path) -> list[str]:
        """The command line that runs what follows it as a learner process started in ``cwd``."""
        enter = [sys.executable, "-I", "-B", "-m", ENTER_MODULE, "--limits", self.limits.to_json()]
        if self.uid is not None:
            enter += ["--uid", str(self.uid)]
        enter.append("--")
        if self.bwrap is None:
            return enter
        capabilities = ("CAP_SETUID", "CAP_SETGID") if self.uid is not None else ()
        command = sandbox.BwrapCommand(
            self.bwrap, scratch_mb=LEARNER_TMP_MB, capabilities=capabilities
        )
        for folder in self.hidden:
            command.hide(folder)
        for folder in self.shared:
            command.bind(folder, writable=True)
        return [*command.finish(cwd), *enter]

    def fork_server(
        self,
        config: Mapping[str, Any],
        *,
        warmed_up: Sequence[int],
        env: Mapping[str, str],
        cwd: Path,
    ) -> WarmServer | None:
        """The test runs' warm server forked by the slot's server, or None (start it cold)."""
        if self.slot_socket is None or self.bwrap is not None:
            return None
        from pytest_tutorial.grading.learner_fork import fork_test_runs_server

        box = {"limits": self.limits.to_json(), "uid": self.uid}
        return fork_test_runs_server(
            self.slot_socket, config, warmed_up=warmed_up, box=box, env=env, cwd=cwd
        )

    def fork_worker(self, channel: socket.socket, cwd: Path) -> WorkerProcess | None:
        """A solution's worker forked by the slot's server, or None (start it cold)."""
        if self.slot_socket is None or self.bwrap is not None:
            return None
        from pytest_tutorial.grading.learner_fork import fork_worker

        box = {"limits": self.limits.to_json(), "uid": self.uid}
        return fork_worker(self.slot_socket, channel, box=box, env=self.environment(), cwd=cwd)

    def fork_trusted_worker(self, channel: socket.socket, cwd: Path) -> WorkerProcess | None:
        """The reference's worker forked by the slot's server, or None (start it cold).

        The grading child's uid and environment, under the batch's limits as the child
        itself is: what a worker the child started would have, without a new interpreter.
        """
        if self.slot_socket is None or self.bwrap is not None:
            return None
        from pytest_tutorial.grading.learner_fork import fork_worker

        box = {"limits": self.limits.to_json(), "uid": None}
        return fork_worker(self.slot_socket, channel, box=box, env=dict(os.environ), cwd=cwd)

    def environment(self) -> dict[str, str]:
        """A clean environment (nothing of the grader's), home and temp in ``/tmp``.

        Without bubblewrap ``/tmp`` is the machine's: home and temp are then the first
        shared folder, which is the submission's own.
        """
        scratch = Path("/tmp") if self.bwrap is not None or not self.shared else self.shared[0]
        env = sandbox.child_environment(scratch, self.marker)
        env["HOME"] = env["TMPDIR"] = str(scratch)
        return env

    def give(self, folder: Path) -> None:
        """Make ``folder`` (and what is in it) the learner uid's, so it can write there.

        Without bubblewrap the folder's parents must also be traversable by that uid.
        """
        if self.uid is None or os.geteuid() != 0:
            return
        for path in [folder, *folder.rglob("*")]:
            os.lchown(path, self.uid, self.uid)

    def describe_exit(self, end: WorkerExit) -> str:
        """How a learner process ended, as its status says.

        A signal is named as a grading child's ending names it: which limit sent it, with
        the figures.
        """
        from pytest_tutorial.grading.ending import Ending, describe_exit
        from pytest_tutorial.grading.usage import Usage

        if end.signal_name is None:
            return plain_description(end)
        usage = Usage(end.peak_rss_kb, end.cpu_s, end.cpu_s, processes=1)
        now, before = oom_kills(), self.oom_kills_before
        ooms = now - before if now is not None and before is not None else None
        return describe_exit(Ending("exited", end.returncode, usage, ooms), self.limits, "it")
