"""Solutions served by workers: a tutorial run's learner code out of the checks' process.

With ``--tutorial-isolation=worker`` the ``solution`` fixture is a :class:`RemoteSolution`:
the same :class:`~pytest_tutorial.solution.Solution` a check reads exports from
(``solution.CacheService``), whose module is a handle of a module imported in a worker
process. :class:`SolutionWorkers` keeps one worker per solution folder (the learner's, the
reference's), started on first use and reused by the checks that follow; a worker that
ended (a time limit stopped it, or the learner's code crashed it) fails only the check that
was running, and the next check that needs the solution gets a fresh one.

For each check the fixtures' clients cross by reference (:meth:`SolutionWorkers.begin_check`):
a fake Redis client as a Unix socket of the check's own folder (:mod:`.redis_bridge`), an
AWS client as forwarded API calls (:mod:`.aws_bridge`), the fake clock as state the worker
reads locally (:mod:`.clock_bridge`). The sockets' folder is removed when the check ends.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_tutorial.isolation import protocol
from pytest_tutorial.isolation.aws_bridge import AwsBridge
from pytest_tutorial.isolation.clock_bridge import ClockBridge
from pytest_tutorial.isolation.handles import Handle
from pytest_tutorial.isolation.launcher import Launcher
from pytest_tutorial.isolation.redis_bridge import RedisBridge
from pytest_tutorial.isolation.remote import Worker, WorkerGone
from pytest_tutorial.isolation.worker_process import WorkerProcess
from pytest_tutorial.model import SolutionContract
from pytest_tutorial.solution import Solution, SolutionImportError, module_file_of

__all__ = ["RemoteSolution", "SolutionWorkers", "WorkerGone"]


@dataclass(frozen=True)
class RemoteSolution(Solution):
    """A :class:`Solution` whose module lives in a worker: exports come back as handles."""

    worker: Worker | None = None
    source: Path | None = None
    """The main module's file."""

    @property
    def current(self) -> bool:
        """Whether the worker that imported the module still serves it."""
        module: Any = self.module
        worker = self.worker
        return (
            worker is not None
            and worker.gone is None
            and isinstance(module, Handle)
            and module._generation == worker.generation
        )

    @property
    def module_file(self) -> str:
        """The path of the solution's main module, for messages (known without a request)."""
        return str(self.source or self.path)

    @property
    def processes(self) -> tuple[int, ...]:
        """The worker (whatever wraps it, such as a sandbox, and what it started)."""
        process = None if self.worker is None else self.worker.process
        return () if process is None else (process.pid,)


class _Side:
    """One solution's worker and the check's Redis sockets that only it reaches."""

    def __init__(self, worker: Worker, launcher: Launcher | None) -> None:
        self.worker = worker
        self.launcher = launcher
        self._check_folder: Path | None = None
        self._redis: RedisBridge | None = None
        self.after_last_check: tuple[int, str | None] = (worker.generation, worker.gone)
        """The worker's generation and end as the previous check left them."""
        self.starting: threading.Thread | None = None
        """A start begun ahead of the first check (:meth:`SolutionWorkers.prestart`)."""

    def ended_during_check(self) -> bool:
        """Whether the worker ended during the running check."""
        worker = self.worker
        return worker.gone is not None and (worker.generation, worker.gone) != self.after_last_check

    def adapt_redis(self, value: object) -> dict[str, object] | None:
        """A fake Redis client as a socket in this side's folder of the running check."""
        if self._redis is None:
            from pytest_tutorial.isolation.redis_bridge import is_bridgeable

            if not is_bridgeable(value):
                return None
            self._check_folder = Path(tempfile.mkdtemp(prefix="pytest-tutorial-"))
            if self.launcher is not None:
                self.launcher.give(self._check_folder)  # its sockets are the worker's way in
            self._redis = RedisBridge(self._check_folder)
        return self._redis.adapt(value)

    def end_check(self) -> None:
        """Close the check's Redis sockets and remove their folder."""
        self.after_last_check = (self.worker.generation, self.worker.gone)
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        if self._check_folder is not None:
            shutil.rmtree(self._check_folder, ignore_errors=True)
            self._check_folder = None


class SolutionWorkers:
    """One worker per solution folder, and the fixtures' clients of the running check.

    With a launcher (grading) the learner's workers start through it: limited, under the
    job slot's uid. The reference solution is the tutorial's own trusted code: its worker
    is the trusted process's user's, with a socket folder of its own, so the learner's code
    can neither reach it nor stand in for the fakes it talks to (forked by a job slot's warm
    server when there is one, else started plainly).
    """

    def __init__(self, cwd: Path, launcher: Launcher | None = None) -> None:
        self.cwd = cwd
        self.launcher = launcher
        """Starts the learner's workers contained (grading), or None for plain children."""
        self._sides: dict[Path, _Side] = {}

    def load(self, path: Path, kind: str, contract: SolutionContract) -> RemoteSolution:
        """Import ``contract.module`` from ``path`` in its worker (started when needed).

        Raises :class:`SolutionImportError` with the same message a run in one process
        gives, also when the import ended the worker; :class:`WorkerGone` when the worker
        could not start.
        """
        module_file = module_file_of(path, contract)
        worker = self._worker_for(path, kind)
        try:
            module = worker.request(
                protocol.IMPORT,
                folder=str(path),
                module=contract.module,
                exports=list(contract.exports),
                as_package=True,
            )
        except WorkerGone as gone:
            # As when a run in one process dies at import: every check fails the same way,
            # and no check starts a worker only to see it end again.
            raise SolutionImportError(
                f"the process running your code ended while importing the solution: {gone}"
            ) from None
        return RemoteSolution(
            path=path,
            kind=kind,
            module=module,
            exports=contract.exports,
            worker=worker,
            source=module_file,
        )

    def prestart(self, path: Path, kind: str) -> None:
        """Start the worker for ``path`` in the background, while the checks are collected.

        A start that fails here is tried again by the first check that needs the worker,
        which then reports it.
        """
        if not path.is_dir():
            return  # the first check that needs it reports the missing folder
        side = self._side_for(path, kind)
        if side.worker.gone is not None and side.starting is None:
            side.starting = threading.Thread(
                target=_start_quietly, args=(side.worker,), name="worker-start", daemon=True
            )
            side.starting.start()

    def _worker_for(self, path: Path, kind: str) -> Worker:
        side = self._side_for(path, kind)
        if side.starting is not None:
            side.starting.join()
            side.starting = None
        if side.worker.gone is not None:
            side.worker.start()
        return side.worker

    def _side_for(self, path: Path, kind: str) -> _Side:
        side = self._sides.get(path)
        if side is None:
            launcher = None if kind == "reference" else self.launcher
            worker = self._new_worker(path, launcher)
            side = _Side(worker, launcher)
            clocks = ClockBridge(worker)
            aws = AwsBridge(worker.register_callback)
            worker.adapters.extend([side.adapt_redis, clocks.adapt, aws.adapt])
            self._sides[path] = side
        return side

    def _new_worker(self, path: Path, launcher: Launcher | None) -> Worker:
        if launcher is None:
            trusted = self.launcher
            return Worker(
                cwd=str(self.cwd),
                python=(sys.executable, "-B"),
                fork=self._fork_from_learner_server
                if trusted is None
                else lambda channel: trusted.fork_trusted_worker(channel, self.cwd),
            )
        # The learner's code may write its own folder, its working folder here: the grader's
        # own working folder holds files a learner process must not touch.
        launcher.give(path)
        return Worker(
            prefix=launcher.prefix(path),
            env=launcher.environment(),
            cwd=str(path),
            python=(sys.executable, "-I", "-B"),
            describe_exit=launcher.describe_exit,
            fork=lambda channel: launcher.fork_worker(channel, path),
        )

    def _fork_from_learner_server(self, channel: socket.socket) -> WorkerProcess | None:
        """A plain worker forked by the learner-tests server the run was named, or None.

        ``watch`` names the server it keeps from save to save
        (:data:`~pytest_tutorial.learner_tests.SHARED_SERVER_VARIABLE`): its fork spares the
        worker a new interpreter (:mod:`.forked_worker`). None: none was named, or it is gone.
        """
        from pytest_tutorial.isolation.forked_worker import fork_plain_worker
        from pytest_tutorial.learner_tests import shared_server_socket

        server = shared_server_socket()
        return None if server is None else fork_plain_worker(server, channel, self.cwd)

    def ended_during_check(self) -> Worker | None:
        """A worker that ended during the running check (its ``gone`` says how), or None."""
        for side in self._sides.values():
            if side.ended_during_check():
                return side.worker
        return None

    def end_check(self) -> None:
        """Close the check's Redis sockets and remove their folders."""
        for side in self._sides.values():
            side.end_check()

    def close(self) -> None:
        """Stop every worker (the end of the run)."""
        self.end_check()
        for side in self._sides.values():
            if side.starting is not None:
                side.starting.join()
            side.worker.stop()
        self._sides.clear()


def _start_quietly(worker: Worker) -> None:
    with contextlib.suppress(WorkerGone):
        worker.start()
