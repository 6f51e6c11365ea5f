"""A solution's worker forked by a warm server, not started as a new interpreter.

A worker started as a child of the trusted process starts Python and imports the worker's
modules before it serves: about 0.2 s of CPU for each solution of a run, and again after
every check that ended its worker. Where a warm server (:mod:`pytest_tutorial.warm`) that
has done those imports is at hand, the worker is its fork instead:

- in ``grade``, the job slot's warm server forks it as a learner process, entering the
  batch's limits and the slot's uid first (:mod:`pytest_tutorial.grading.learner_fork`);
- in a run that was named a learner-tests server to fork its test runs from
  (``PYTEST_TUTORIAL_LEARNER_SERVER``: ``watch`` keeps one from save to save), that server
  forks every worker of the run as a plain child of the run would be started
  (:func:`fork_plain_worker`): the run's environment, working folder and umask, its
  ``sys.path`` entry for that folder, no limits.

The learner's code meets what a new worker gives it: no module of its own loaded,
``random`` seeded afresh (Python reseeds it in every fork), the worker's logging handler
alone, its own ``sys.argv``, no hypothesis storage folder but one its environment names.
What differs is what the server imported (pytest, hypothesis, the fakes): already in the
module table. The server never runs a request itself (the clean-start rule of
:mod:`pytest_tutorial.warm`), so nothing of one worker reaches the next.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_tutorial.isolation.exits import REAP_WITHIN_S, WorkerExit
from pytest_tutorial.warm import (
    HYPOTHESIS_STORAGE,
    RunResult,
    ServerGone,
    WarmServer,
    exit_status,
    kill_group,
)

PLAIN_TARGET = f"{__name__}:serve_as_plain_worker"
START_TIMEOUT_S = 60.0
STDOUT_FD = 1
KILLED_REAP_S = 15.0
"""How long a killed worker's server may take to reap it and answer before it is left."""


class ForkedWorker:
    """A solution's worker forked by a warm server (:func:`fork_worker`).

    Its own connection to that server carries the one request: closing it kills the
    worker's process group; the server's answer is its end, with its figures.
    """

    def __init__(self, server: WarmServer) -> None:
        self.server = server
        self._pid: int | None = None
        self._result: RunResult | None = None
        self._started = threading.Event()
        self._ended = threading.Event()

    def begin(
        self,
        target: str,
        payload: dict[str, Any],
        env: Mapping[str, str],
        cwd: Path,
        fds: list[int],
    ) -> None:
        """Ask for the fork; its answer is awaited on a thread of its own."""

        def run() -> None:
            try:
                self._result = self.server.run(
                    target,
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
                self.server.close()  # nothing of this request is left to kill

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
        """The worker's pid (a grader's sandbox and the grading child share a pid space)."""
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
        self.server.close()
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
    server_socket: Path,
    channel: socket.socket,
    *,
    target: str,
    payload: Mapping[str, Any],
    env: Mapping[str, str],
    cwd: Path,
    timeout_s: float = START_TIMEOUT_S,
) -> ForkedWorker | None:
    """A worker serving on ``channel``, forked by the server at ``server_socket``, or None.

    The fork runs ``target(payload)`` in ``cwd`` with ``env`` as its whole environment; the
    payload also gets ``umask`` (this process's) and ``fds``: this process's descriptor 1
    (its output, as a worker started here writes there: ``sys.stdout`` may be pytest's
    capture, with no descriptor of its own) and the worker's end of ``channel``. None: no
    server answers there, or it did not fork within ``timeout_s``.
    """
    server = WarmServer.connect(server_socket)
    if server is None:
        return None
    worker = ForkedWorker(server)
    worker.begin(target, {**payload, "umask": _umask()}, env, cwd, [STDOUT_FD, channel.fileno()])
    if not worker.forked_within(timeout_s):
        worker.kill()
        return None
    return worker


def fork_plain_worker(
    server_socket: Path, channel: socket.socket, cwd: Path
) -> ForkedWorker | None:
    """A worker forked as a plain child of this process would start: see the module."""
    env = dict(os.environ)
    return fork_worker(
        server_socket,
        channel,
        target=PLAIN_TARGET,
        payload={"storage": env.get(HYPOTHESIS_STORAGE)},
        env=env,
        cwd=cwd,
    )


def serve_as_plain_worker(payload: dict[str, Any]) -> int:
    """In the server's fork: become what ``python -B -m ...worker`` in the folder would be.

    ``payload``: ``storage`` (the hypothesis storage folder the environment named, or
    None), ``umask`` and the ``fds`` received (the output, already on stdout and stderr,
    and the worker's end of its channel).
    """
    _output, channel = payload["fds"]
    close_descriptors_but((0, 1, 2, channel))
    tempfile.tempdir = None  # found again from this process's environment
    sys.dont_write_bytecode = True  # -B
    if sys.flags.safe_path:  # the server was started with -P: it has no such entry
        sys.path.insert(0, os.getcwd())
    else:
        sys.path[0] = os.getcwd()  # ``python -m`` puts the working folder first
    serve_as_worker(channel, umask=int(payload["umask"]), storage=payload.get("storage"))
    return 0


def serve_as_worker(channel: int, *, umask: int, storage: str | None = None) -> None:
    """Serve on ``channel`` as a new worker would, in a fork that is otherwise ready.

    The server's fork has a hypothesis storage folder of its own unless ``storage`` named
    one (a worker started cold has the one its environment names, or none), the server's
    umask and logging, and the server's ``sys.argv``: each is set as a new worker has it.
    """
    from pytest_tutorial.isolation import worker

    if storage is None:
        os.environ.pop(HYPOTHESIS_STORAGE, None)
    os.umask(umask)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    logging.disable(logging.NOTSET)
    sys.argv = [str(worker.__file__), str(channel)]  # as ``python -m`` would set it
    worker.main([str(channel)])


def close_descriptors_but(kept: Sequence[int]) -> None:
    """Close every descriptor of this process but ``kept`` (the server's are not the worker's)."""
    start = 0
    for fd in [*sorted(set(kept)), os.sysconf("SC_OPEN_MAX")]:
        if start < fd:  # an empty range would close every descriptor (close_range(2))
            os.closerange(start, fd)
        start = fd + 1


def _umask() -> int:
    """This process's umask, read without changing it (Linux), or the usual 022."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022
