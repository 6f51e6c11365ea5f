"""Grading children forked from a warm server per job slot, not started as new processes.

A grading child starts Python and imports pytest, its plugins, hypothesis, fakeredis (and
moto and boto3 for AWS tutorials) and the harness before it runs a single check: about
half a second of CPU per submission, in every submission of a class. With bubblewrap,
each job slot instead keeps one sandbox for the batch, in which a warm server
(:mod:`pytest_tutorial.warm`) has done those imports once, and a grading child's pytest
set-up once on an empty folder (:func:`warm_up_run`); every submission of the slot is a
child forked from it.

What a submission's grading finds is what a cold start gives it:

- the server never runs a request itself (the clean-start rule of
  :mod:`pytest_tutorial.warm`): every child is a copy of the same untouched process;
- with workers (the default isolation) the child never runs the submission's code: that
  runs in its worker and its test runs, learner processes under the slot's uid
  (:mod:`.learner_box`) that the server forks at the child's request
  (:mod:`.learner_fork`), each entering the limits and the uid before any of that code
  runs, and seeing nothing of the slot's sandbox but the folders handed to it; the
  submission's usage counts them with the child. With ``--isolation process`` the child
  imports the submission once it has collected the checks and given up root for the
  slot's uid, as a child started cold does;
- a child closes every descriptor the server left it but its own (output, stream, token,
  feed): the server's sockets, and its wake-up pipe, are not the submission's;
- each child's scratch folder is a new one the server makes (random name, in a folder only
  root may list) and removes when the child ends; before the slot takes another
  submission, the child's process group and every process of the slot's uid or the job's
  marker are killed (:mod:`.cleanup`), as after a cold start;
- the descriptors a cold child inherits (output, result stream, token, the checks' feed)
  reach the forked child over the server's Unix socket (``SCM_RIGHTS``); the submission's
  copy is moved into the slot's inbox, bound read-only into the sandbox, and removed after.

Without bubblewrap, without job-slot uids (a grader not running as root: the learner's processes
would have the warm process's uid, and could reach it and so the slot's later
submissions), or when a slot's server cannot start or dies, children start cold.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_tutorial.grading import sandbox
from pytest_tutorial.grading.usage import SAMPLE_EVERY_S, Usage, sample_tree
from pytest_tutorial.warm import (
    AWS_IMPORTS,
    BASE_IMPORTS,
    NOTHING_COLLECTED,
    REDIS_IMPORTS,
    RunResult,
    ServerGone,
    WarmServer,
    exit_status,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

TARGET = "pytest_tutorial.grading.child:run_forked"
CHILD_IMPORTS = (
    "pytest_tutorial.plugin",
    "pytest_tutorial.session",
    "pytest_tutorial.grading.child",
    "pytest_tutorial.grading.learner_box",
    "pytest_tutorial.isolation.remote",
    "pytest_tutorial.learner_tests",
)
"""The harness's modules every grading child imports, besides the libraries. None of them
imports a module pytest rewrites (:data:`~pytest_tutorial.rewriting.REWRITTEN`: the checks'
fixtures and helpers), or the checks' asserts would lose their explanations."""
START_TIMEOUT_S = 60.0
FORK_TIMEOUT_S = 10.0
"""How long the parent waits to see the forked child before it starts one cold instead."""
INBOX = "inbox"
COPY = "copy"
SOCKETS = "socket"
SOCKET = "warm.sock"
WARM_UP = "warm-up"
"""An empty folder beside the socket, which the server's warm-up run collects."""
RUNS_WARM_UP = "warm-up-runs"
"""The same for the warm-up run of the learner's tests' set-up."""


@dataclass
class SlotServer:
    """One job slot's sandbox and the warm server in it."""

    server: WarmServer
    folder: Path
    """The slot's host folder: ``inbox`` (bound read-only inside) and ``socket`` (bound as
    it is: the server listens there)."""

    @classmethod
    def start(
        cls, folder: Path, prefix: Sequence[str], env: Mapping[str, str], aws: bool
    ) -> SlotServer | None:
        """Start the slot's server in its sandbox (``prefix``), or None when it cannot.

        Besides the imports, the server makes a grading child's pytest set-up once, on an
        empty folder (:func:`warm_up_run`), then a run of the learner's tests' set-up, so
        that the test runs' server it forks for each submission
        (:mod:`.learner_fork`) starts warm with no warm-up run of its own.
        """
        from pytest_tutorial.learner_tests import RUNNER_MODULE, lay_out_warm_up

        imports = (*BASE_IMPORTS, *REDIS_IMPORTS, *(AWS_IMPORTS if aws else ()), *CHILD_IMPORTS)
        empty = folder / SOCKETS / WARM_UP
        empty.mkdir(exist_ok=True, mode=0o700)
        (empty / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        runs_empty = folder / SOCKETS / RUNS_WARM_UP
        runs_empty.mkdir(exist_ok=True, mode=0o700)
        server = WarmServer.start(
            (*imports, RUNNER_MODULE),
            pytest_warmup=warm_up_run(empty),
            further_warmups=[lay_out_warm_up(runs_empty)],
            warmed_up=(NOTHING_COLLECTED,),
            prefix=prefix,
            python_flags=("-I", "-B"),
            env=env,
            listen=folder / SOCKETS / SOCKET,
            timeout_s=START_TIMEOUT_S,
        )
        return None if server is None else cls(server, folder)

    @property
    def inbox(self) -> Path:
        """Host folder seen read-only at :data:`~.sandbox.SUBMISSION_SOURCE` inside."""
        return self.folder / INBOX

    @property
    def alive(self) -> bool:
        """Whether the server still answers."""
        return self.server.alive and self.server.process is not None

    @property
    def socket(self) -> Path:
        """Where the server listens, the same path inside the sandbox as outside."""
        return self.folder / SOCKETS / SOCKET

    def fork(
        self,
        argv: Sequence[str],
        environ: Mapping[str, str],
        fds: Sequence[int],
        timeout_s: float,
    ) -> ForkedChild | None:
        """Fork a grading child (``fds``: output, stream, token, feed); None if it failed.

        Returns once the child exists: the caller may then close its copies of ``fds``.
        """
        connection = WarmServer.connect(self.socket)
        if connection is None:
            return None
        root = self._server_pid()
        before = set(_children(root)) if root is not None else set()
        child = ForkedChild(connection)
        child.begin(list(argv), dict(environ), list(fds), timeout_s)
        deadline = time.monotonic() + FORK_TIMEOUT_S
        while root is not None and time.monotonic() < deadline and not child.finished:
            new = [pid for pid in _children(root) if pid not in before]
            if new:
                child.host_pid, child.server_pid, child.older = new[0], root, before
                return child
            time.sleep(0.002)
        child.abandon()
        return None

    def _server_pid(self) -> int | None:
        """The server's pid as this process sees it (below bubblewrap's processes)."""
        process = self.server.process
        if process is None:
            return None
        pending = [process.pid]
        while pending:
            pid = pending.pop(0)
            if _is_server(pid):
                return pid
            pending += _children(pid)
        return None

    def close(self) -> None:
        """Stop the server and its sandbox."""
        self.server.close()


class ForkedChild:
    """A grading child forked by a slot's server, watched as a cold child is."""

    def __init__(self, connection: WarmServer) -> None:
        self.connection = connection
        self.usage = Usage()
        self.host_pid: int | None = None
        self.server_pid: int | None = None
        """The slot's server: what it forks after this child (the submission's worker and
        test runs' server, as learner processes) is this submission's too."""
        self.older: set[int] = set()
        """The server's children from before this child, none of this submission's."""
        self._result: RunResult | None = None
        self._gone = False
        self._thread: threading.Thread | None = None
        self._sampled_at = 0.0

    def begin(
        self, argv: list[str], environ: dict[str, str], fds: list[int], timeout_s: float
    ) -> None:
        """Send the request; its answer is read on a thread of its own."""

        def run() -> None:
            try:
                self._result = self.connection.run(
                    TARGET,
                    {"argv": argv},
                    output=None,
                    timeout_s=timeout_s,
                    environ=environ,
                    fds=fds,
                )
            except ServerGone:
                self._gone = True
            finally:
                self.connection.close()  # the run has ended: nothing of it is left to kill

        self._thread = threading.Thread(target=run, name="grade-forked", daemon=True)
        self._thread.start()

    @property
    def finished(self) -> bool:
        """Whether the server answered (or went away)."""
        return self._thread is not None and not self._thread.is_alive()

    @property
    def pid(self) -> int:
        """The child's pid, as this process sees it."""
        assert self.host_pid is not None
        return self.host_pid

    @property
    def returncode(self) -> int | None:
        """The child's exit status (negative: the signal that ended it) once it ended."""
        return exit_status(self._result) if self.finished else None

    def poll(self) -> int | None:
        """The exit status once the child has ended, else None."""
        code = self.returncode
        if code is not None and self._result is not None:
            self.usage.peak_rss_kb = max(self.usage.peak_rss_kb, self._result.peak_rss_kb)
            self.usage.cpu_s = max(self.usage.cpu_s, self._result.cpu_s)
        return code

    def wait(self, timeout: float | None) -> int | None:
        """Wait up to ``timeout`` seconds (None: for ever); the exit status or None."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.poll()

    def kill(self) -> None:
        """SIGKILL the child."""
        if self.host_pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.host_pid, signal.SIGKILL)

    def sample(self, *, force: bool = False) -> None:
        """Record the figures of the submission's processes (at most so often).

        The child's tree, and what the slot's server forked for the submission since.
        """
        now = time.monotonic()
        if self.host_pid is None or (not force and now - self._sampled_at < SAMPLE_EVERY_S):
            return
        self._sampled_at = now
        if not self.finished:
            sample_tree(self.usage, self.host_pid)
            if self.server_pid is not None:
                for pid in _children(self.server_pid):
                    if pid != self.host_pid and pid not in self.older:
                        sample_tree(self.usage, pid)

    def abandon(self) -> None:
        """Give up on a child that never appeared: this client's runs are killed."""
        self.connection.close()
        if self._thread is not None:
            self._thread.join(5)


SHARED_PLACES = (Path("/tmp"), Path("/dev/shm"))
"""Folders of a slot's sandbox that every uid may write, and so one submission's learner
processes could leave something in for the next."""


def wipe_shared_places(uid: int | None) -> None:
    """Empty what a slot's earlier submissions could have left (called by each new child).

    The folders anyone may write, and System V IPC objects (the sandbox's IPC namespace
    lives as long as the slot): removed as ``uid``, the slot's learner uid that made them
    (the child, root without ``CAP_SYS_ADMIN``, may not remove another user's). The earlier
    submission's processes are gone by then: the parent kills them before the slot takes
    another submission.
    """
    mounts = _mount_points()
    for folder in SHARED_PLACES:
        _empty(folder, mounts)
    ipcrm = shutil.which("ipcrm")
    if ipcrm is not None:
        subprocess.run(
            [ipcrm, "--all"], check=False, capture_output=True, timeout=10, user=uid, group=uid
        )


def _empty(folder: Path, mounts: set[Path]) -> None:
    """Remove what is in ``folder``, but never a mount point or what leads to one.

    The host folders bound into the sandbox (the slot's socket folder may be under
    ``/tmp``) are not the sandbox's to remove.
    """
    with contextlib.suppress(OSError):
        for entry in list(folder.iterdir()):
            if entry in mounts:
                continue
            if any(mount.is_relative_to(entry) for mount in mounts):
                _empty(entry, mounts)
            elif entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _mount_points() -> set[Path]:
    found = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            if len(fields) > 4:
                found.add(Path(fields[4].replace("\\040", " ")))
    return found


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError, ValueError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(n) for n in (task / "children").read_text().split()]
    return found


def _is_server(pid: int) -> bool:
    """Whether ``pid`` runs the warm server's module (bubblewrap's own command names it too)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return command[0] == sys.executable.encode() and b"pytest_tutorial.warm.server" in command


def warm_up_run(folder: Path) -> list[str]:
    """The arguments of a grading child's pytest run (:mod:`.child`), on the empty ``folder``.

    A child's configuration and collection of the checks then find pytest's and the plugins'
    first-use costs paid: about 0.05 s of CPU less in each grading child. No
    tutorial is named, so no check module is imported: each child collects the checks fed
    to it.
    """
    from pytest_tutorial.grading.child import pytest_set_up

    return [*pytest_set_up(folder), "--collect-only", str(folder)]


class SlotServers:
    """The batch's slot servers, each started on its slot's first submission."""

    def __init__(
        self,
        workdir: Path,
        prefix_for: Callable[[Path], list[str]],
        env: Mapping[str, str],
        *,
        aws: bool,
    ) -> None:
        self.workdir = workdir
        self.prefix_for = prefix_for
        self.env = env
        self.aws = aws
        self._servers: dict[int, SlotServer | None] = {}
        self._lock = threading.Lock()

    def get(self, slot: int) -> SlotServer | None:
        """The slot's live server, started on first use; None: start the child cold."""
        with self._lock:
            if slot in self._servers:
                server = self._servers[slot]
                if server is None or server.alive:
                    return server
                server.close()  # it died: the slot starts its children cold from now on
                self._servers[slot] = None
                return None
        folder = self.workdir / f"slot-{slot}"
        for name in (INBOX, SOCKETS):
            (folder / name).mkdir(parents=True, exist_ok=True, mode=0o700)
        server = SlotServer.start(folder, self.prefix_for(folder), self.env, self.aws)
        with self._lock:
            self._servers[slot] = server
        return server

    def close(self) -> None:
        """Stop every slot's server."""
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            if server is not None:
                server.close()


def slot_prefix(bwrap: str, *, hidden: Sequence[Path], scratch_mb: int, folder: Path) -> list[str]:
    """A slot's sandbox: a grading child's, with the inbox and the server's socket folder."""
    return sandbox.bwrap_prefix(
        bwrap,
        hidden=hidden,
        submission=folder / INBOX,
        scratch_mb=scratch_mb,
        capabilities=sandbox.child_capabilities(in_workers=True),
        shared=(folder / SOCKETS,),
    )
