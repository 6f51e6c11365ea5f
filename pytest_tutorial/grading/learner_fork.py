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
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_tutorial.grading import sandbox
from pytest_tutorial.isolation import forked_worker
from pytest_tutorial.isolation.forked_worker import ForkedWorker
from pytest_tutorial.warm import HYPOTHESIS_STORAGE, ServerGone, WarmServer

SERVE_TARGET = f"{__name__}:serve_test_runs"
WORKER_TARGET = f"{__name__}:serve_as_worker"
START_TIMEOUT_S = 60.0
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
    return forked_worker.fork_worker(
        slot_socket,
        channel,
        target=WORKER_TARGET,
        payload={"box": dict(box)},
        env=env,
        cwd=cwd,
        timeout_s=timeout_s,
    )


def serve_as_worker(payload: dict[str, Any]) -> int:
    """In the slot server's fork: enter the box (a learner process's), then serve as a worker.

    ``payload``: ``box`` and ``umask`` (:func:`fork_worker`), and the ``fds`` received:
    the output (already on stdout and stderr) and the worker's end of its channel.
    """
    _output, channel = payload["fds"]
    enter_box(payload["box"], keep=(channel,))
    forked_worker.serve_as_worker(channel, umask=int(payload["umask"]))
    return 0


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
    forked_worker.close_descriptors_but((0, 1, 2, *keep))
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


def _prctl(option: int, value: int) -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(option, value, 0, 0, 0)
