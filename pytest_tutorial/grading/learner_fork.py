"""The server of a submission's test runs, forked from the job slot's warm server.

A grading child runs the learner's own tests in children of a warm server that is itself a
learner process (:mod:`pytest_tutorial.learner_tests`). Started cold, that server starts
Python and imports pytest, its plugins, hypothesis and fakeredis (moto and boto3 too for
an AWS solution): about 0.6 s of CPU in every graded submission, 1.4 s with AWS. The job
slot's warm server (:mod:`.warm_slots`) has those imports done already, so the grading
child asks it to fork this server instead.

The fork becomes a learner process before it does anything else, as a cold one is made by
:mod:`.enter`: every descriptor but its own socket closed, the batch's resource limits,
``no_new_privs`` and, as root, the job slot's uid. What it carries of the slot's server
is what that server has: imported modules, never a request's data (the clean-start rule
of :mod:`pytest_tutorial.warm`), and it lives as long as one submission: the cleanup
after the submission kills every process of the slot's uid. Its runs share assert
rewrites in a folder of its own, never the slot server's (which holds the checks').

The submission's worker (where its code runs for the checks) is forked the same way
(:func:`fork_worker`), which spares it two new interpreters (the limits' entry, then the
worker: about 0.3 s of CPU a submission). The learner's code meets what a new worker
would: no module of its own loaded, ``random`` seeded afresh (Python reseeds it in every
fork), the worker's logging handler alone, its own ``sys.argv``. What differs is what the
slot's server imported (pytest, hypothesis, fakeredis, the checks): already in the module
table, and in the address space that the memory limit counts (about 270 MB of address
space at the start, against 130 MB for a new worker, of the default 2048 MB).

The reference's worker, against which the relative performance target measures the
submission, is forked the same way but stays the trusted side's: the grading child's uid
and environment, under the batch's limits as the child is, as a worker the child started
would be. Every submission starts it, starters too: forked, it costs 0.00 to 0.06 s of CPU
against 0.18 s started cold.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_tutorial.grading import sandbox
from pytest_tutorial.isolation.exits import REAP_WITHIN_S, WorkerExit
from pytest_tutorial.warm import (
    HYPOTHESIS_STORAGE,
    RunResult,
    ServerGone,
    WarmServer,
    exit_status,
    kill_group,
)

SERVE_TARGET = f"{__name__}:serve_test_runs"
WORKER_TARGET = f"{__name__}:serve_as_worker"
START_TIMEOUT_S = 60.0
STDOUT_FD = 1
KILLED_REAP_S = 15.0
"""How long a killed worker's server may take to reap it and answer before it is left."""
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4


class ForkedServer(WarmServer):
    """A warm server forked by the slot's server, reached over a socket pair."""

    def __init__(self, connection: socket.socket, slot: WarmServer) -> None:
        super().__init__(None, connection=connection)
        self.slot = slot
        self.serving: threading.Thread | None = None

    def close(self) -> None:
        """Stop the server (its runs end with it), then leave the slot's server."""
        super().close()
        self.slot.close()  # kills the fork's process group, were it still there
        if self.serving is not None:
            self.serving.join(timeout=5)


def fork_test_runs_server(
    slot_socket: Path,
    config: Mapping[str, Any],
    *,
    warmed_up: Sequence[int],
    box: Mapping[str, Any],
    env: Mapping[str, str],
    cwd: Path,
    timeout_s: float = START_TIMEOUT_S,
) -> WarmServer | None:
    """A warm server for a submission's test runs, forked by the slot's server.

    ``config`` is :meth:`WarmServer.start`'s (imports, warm-up run), whose exit code must
    be one of ``warmed_up``; ``box`` the learner process's ``limits`` (JSON) and ``uid``.
    None when the slot's server cannot fork it: the caller then starts one cold.
    """
    slot = WarmServer.connect(slot_socket)
    if slot is None:
        return None
    ours, theirs = socket.socketpair()
    output = os.open(os.devnull, os.O_WRONLY)
    server = ForkedServer(ours, slot)
    payload = {"config": dict(config), "box": dict(box)}

    def serve() -> None:
        with contextlib.suppress(ServerGone):
            slot.run(
                SERVE_TARGET,
                payload,
                output=None,
                timeout_s=None,
                cwd=cwd,
                environ=dict(env),
                fds=[output, theirs.fileno()],
            )

    server.serving = threading.Thread(target=serve, name="tests-server", daemon=True)
    server.serving.start()
    try:
        deadline = time.monotonic() + timeout_s
        while (ready := server.warmed_up(0.05, warmed_up)) is None:
            # The fork has its copies once it answers; until then a fork that failed shows
            # as the slot's answer, since the server's end of the pair is still open here.
            if not server.serving.is_alive() or time.monotonic() >= deadline:
                break
        if not ready:
            server.close()
            return None
    finally:
        theirs.close()
        os.close(output)
    return server


class ForkedWorker:
    """A solution's worker forked by the slot's server (:func:`fork_worker`).

    Its own connection to that server carries the one request: closing it kills the
    worker's process group; the server's answer is its end, with its figures.
    """

    def __init__(self, slot: WarmServer) -> None:
        self.slot = slot
        self._pid: int | None = None
        self._result: RunResult | None = None
        self._started = threading.Event()
        self._ended = threading.Event()

    def begin(
        self, payload: dict[str, Any], env: Mapping[str, str], cwd: Path, fds: list[int]
    ) -> None:
        """Ask for the fork; its answer is awaited on a thread of its own."""

        def run() -> None:
            try:
                self._result = self.slot.run(
                    WORKER_TARGET,
                    payload,
                    output=None,
                    timeout_s=None,
                    cwd=cwd,
                    environ=dict(env),
                    fds=fds,
                    on_start=self._forked,
                )
            except ServerGone:
                pass
            finally:
                self._ended.set()
                self._started.set()
                self.slot.close()  # nothing of this request is left to kill

        threading.Thread(target=run, name="worker-forked", daemon=True).start()

    def _forked(self, pid: int) -> None:
        self._pid = pid
        self._started.set()

    def forked_within(self, timeout_s: float) -> bool:
        """Whether the server forked the worker (and said its pid) within ``timeout_s``."""
        self._started.wait(timeout_s)
        return self._pid is not None

    @property
    def pid(self) -> int:
        """The worker's pid (the slot's sandbox and the grading child share a pid space)."""
        assert self._pid is not None
        return self._pid

    def poll(self) -> int | None:
        """The worker's exit status once the server reported its end, else None."""
        return exit_status(self._result) if self._ended.is_set() else None

    def kill(self) -> None:
        """SIGKILL the worker's process group, wait until the server reaped it, and leave.

        Leaving alone would have the server kill the group too, but only once it notices.
        """
        if self._pid is not None and not self._ended.is_set():  # not reaped: still its pid
            kill_group(self._pid)
            # the server's answer, or its going away, ends the wait (a busy machine: seconds)
            self._ended.wait(KILLED_REAP_S)
        self.slot.close()
        self._ended.wait(START_TIMEOUT_S)

    def reap(self, within_s: float = REAP_WITHIN_S) -> WorkerExit:
        """The worker's end as the server reaped it (``os.wait4``: status, CPU, peak memory)."""
        if not self._ended.wait(within_s):
            return WorkerExit(None)
        result = self._result
        if result is None:
            return WorkerExit(exit_status(None))
        return WorkerExit(exit_status(result), result.cpu_s, result.peak_rss_kb)


def fork_worker(
    slot_socket: Path,
    channel: socket.socket,
    *,
    box: Mapping[str, Any],
    env: Mapping[str, str],
    cwd: Path,
    timeout_s: float = START_TIMEOUT_S,
) -> ForkedWorker | None:
    """A solution's worker serving on ``channel``, forked by the slot's server, or None.

    The fork becomes a learner process (``box``: its ``limits`` as JSON and ``uid``), in
    ``cwd`` with ``env`` as its whole environment; with ``uid`` None it keeps the server's
    uid (the reference's worker, the trusted side's). None: the server could not fork it.
    """
    slot = WarmServer.connect(slot_socket)
    if slot is None:
        return None
    worker = ForkedWorker(slot)
    payload = {"box": dict(box), "umask": _umask()}
    # its output goes where a worker started here would write: this process's descriptor 1
    # (``sys.stdout`` may be pytest's capture, with no descriptor of its own)
    worker.begin(payload, env, cwd, [STDOUT_FD, channel.fileno()])
    if not worker.forked_within(timeout_s):
        worker.kill()
        return None
    return worker


def serve_as_worker(payload: dict[str, Any]) -> int:
    """In the slot server's fork: enter the box (a learner process's), then serve as a worker.

    ``payload``: ``box`` and ``umask`` (:func:`fork_worker`), and the ``fds`` received:
    the output (already on stdout and stderr) and the worker's end of its channel.
    """
    from pytest_tutorial.isolation import worker

    _output, channel = payload["fds"]
    enter_box(payload["box"], keep=(channel,))
    os.environ.pop(HYPOTHESIS_STORAGE, None)  # a worker started cold has none
    os.umask(int(payload["umask"]))
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    logging.disable(logging.NOTSET)
    sys.argv = [str(worker.__file__), str(channel)]  # as ``python -m`` would set it
    worker.main([str(channel)])
    return 0


def _umask() -> int:
    """This process's umask, read without changing it (Linux), or the usual 022."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def serve_test_runs(payload: dict[str, Any]) -> int:
    """In the slot server's fork: become a learner process, then serve the test runs.

    ``payload``: ``config`` and ``box`` (:func:`fork_test_runs_server`), and the ``fds``
    received: output (already on stdout and stderr) and the socket the requests come on.
    """
    from pytest_tutorial.warm.server import serve

    _output, requests = payload["fds"]
    enter_box(payload["box"], keep=(requests,))
    # The slot server made a storage folder for its fork; each run here gets one of its own.
    os.environ.pop(HYPOTHESIS_STORAGE, None)
    connection = socket.socket(fileno=requests)
    replies = connection.makefile("w", encoding="utf-8")
    serve(payload["config"], connection.fileno(), replies, connection)
    return 0


def enter_box(box: Mapping[str, Any], *, keep: Sequence[int]) -> None:
    """Make this fresh fork a learner process, as :mod:`.enter` makes a new one.

    Every descriptor but stdin, stdout, stderr and ``keep`` is closed (the slot server's
    are not the learner's); the limits, ``no_new_privs`` and the uid are entered (a
    ``uid`` of None keeps the server's: the reference's worker). The change of uid makes a
    process undumpable and clears its parent-death signal: both are set back, so the
    cleanup finds it by its uid and it still dies with its parent.
    """
    _close_descriptors_but((0, 1, 2, *keep))
    tempfile.tempdir = None  # found again from this process's environment
    limits = sandbox.Limits.from_json(str(box["limits"]))
    uid = box.get("uid")
    dropping = isinstance(uid, int) and os.geteuid() == 0
    sandbox.apply_rlimits(limits, processes=dropping or os.geteuid() != 0)
    sandbox.no_new_privileges()
    if dropping:
        assert isinstance(uid, int)
        sandbox.drop_to(uid)
        _prctl(_PR_SET_DUMPABLE, 1)
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def _close_descriptors_but(kept: Sequence[int]) -> None:
    start = 0
    for fd in [*sorted(set(kept)), os.sysconf("SC_OPEN_MAX")]:
        if start < fd:  # an empty range would close every descriptor (close_range(2))
            os.closerange(start, fd)
        start = fd + 1


def _prctl(option: int, value: int) -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(option, value, 0, 0, 0)
