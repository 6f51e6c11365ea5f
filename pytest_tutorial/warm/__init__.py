"""A warm process that serves runs by fork, so a run skips Python's and pytest's start-up.

Starting Python and importing pytest, its plugins, hypothesis, fakeredis (and moto and boto3
for AWS tutorials) costs more than most runs it serves. A :class:`WarmServer` is one
long-lived process that does those imports once (``imports``, and optionally a
``--collect-only`` pytest run that imports a tutorial's check modules), then forks one child
per request. The learner-tests runs, ``watch``'s reruns, ``verify``'s mutants and ``grade``'s
children all use it.

**The clean-start rule.** A forked child starts as a fresh process would, with the imports
already done:

- the server never imports learner code and never runs a request itself: every child is a
  copy of the same untouched state, so nothing one run did in memory (a module-level
  counter, a learner module in ``sys.modules``, a fake Redis server, moto's backends,
  hypothesis' in-memory state) can be seen by the next run;
- files are the one thing a run can leave behind: each child gets a hypothesis storage
  folder of its own (``HYPOTHESIS_STORAGE_DIRECTORY``, removed after the run) unless the
  request names one, and hypothesis' home folder is reset so it follows that variable;
  the one folder the runs share is the server's store of assertion-rewritten test
  modules, looked up by their source (:mod:`.rewritten`): what a run finds there is what
  pytest would have made of the same source;
- each child runs in its own session (so its process group is killed as a whole), with
  the request's working folder and environment, stdin from ``/dev/null`` and stdout and
  stderr to the request's output file; past its wall-clock limit its group is killed, and
  whatever it left running in its group is killed when it ends.

The server is single-threaded (it forks, so no other thread may hold a lock at that
moment) and event-driven: it sleeps in ``select`` on its requests and on ``SIGCHLD``.

Protocol: one JSON object per line. The server first answers ``{"ready": CODE}`` (CODE is
the warm-up run's exit code, 0 without one; with ``"why"``, what an import or the warm-up
raised); each request ``{"id", "target":
"module:function", "payload", "output", "timeout", "cwd", "env", "environ", "fds"}`` gets
``{"id", "exit_code", "duration_s", "cpu_s", "peak_rss_kb"}`` (``exit_code`` null at the
time limit, negative for a signal; the figures of ``wait4``) when its child ends. On a
connection a request may carry ``fds`` descriptors (``SCM_RIGHTS``): the child gets them
in its payload's ``fds`` entry, and with a null ``output`` the first one is its output
(``grade``'s children get their pipes this way: :mod:`pytest_tutorial.grading.warm_slots`).
Requests are served at once, so several children can run together. End of input ends the
server and its children; so does the server's death (``PR_SET_PDEATHSIG`` on Linux). A
server started with ``listen`` also takes the same requests on a Unix socket from other
processes (:meth:`WarmServer.connect`): ``watch`` keeps one learner-tests server across
saves that way, and a client's disconnection kills only its own runs.

This package is the client (:class:`WarmServer`) and what both sides share;
:mod:`.server` is the server process, :mod:`.rewritten` its store of rewritten modules.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

IGNORE_REWRITE_WARNING = ("-W", "ignore::pytest.PytestAssertRewriteWarning")
"""Modules the warm-up imported cannot be rewritten again; pytest warns (an error under
``filterwarnings = error``). Added to every pytest run made by :func:`run_pytest`."""
SCRATCH_PREFIX = "pytest-tutorial-warm-"
"""The name of a server's scratch folder in the temporary folder starts with it."""
WARMED_UP = (0, 1)
"""Exit codes of a warm-up run that collected (a tutorial run exits 1 unless validated)."""
NOTHING_COLLECTED = 5
"""pytest's exit code when a run collected nothing (a warm-up over an empty folder)."""
HYPOTHESIS_STORAGE = "HYPOTHESIS_STORAGE_DIRECTORY"
ANSWER_GRACE_S = 30.0
"""How long after a run's time limit the client waits for the server's answer."""
BASE_IMPORTS = ("pytest", "hypothesis", "_hypothesis_pytestplugin", "pytest_asyncio.plugin")
"""Always imported: hypothesis too, since its pytest plugin imports it at the end of every
run (its terminal summary), tests that use it or not."""
REDIS_IMPORTS = ("fakeredis", "redis")
AWS_IMPORTS = (
    "boto3",
    "botocore.session",
    "moto",
    "moto.core.models",
    "moto.backends",
    *(
        f"moto.{service}.{part}"
        for service in ("s3", "dynamodb", "sqs")
        for part in ("models", "responses", "urls")
    ),
    "pytest_tutorial.aws_models",
    "pytest_tutorial.aws_memos",
)
"""moto's services are imported lazily, on a mock's first request: the ones the bundled
tutorials use are imported once here (importing creates no backend). Importing
:mod:`pytest_tutorial.aws_models` and :mod:`pytest_tutorial.aws_memos` before the server's
first AWS call keeps the service models that call parses, and what its clients work out,
for every session and client a run makes."""


def warm_imports(*, aws: bool, redis: bool = True) -> tuple[str, ...]:
    """What a run of a tutorial needs imported: pytest, plugins, hypothesis, fakes.

    fakeredis and redis-py (about 0.2 s of CPU with NumPy) only for ``redis``, moto and
    boto3 only for ``aws``: code that imports them without the server's help still can.
    """
    return BASE_IMPORTS + (REDIS_IMPORTS if redis else ()) + (AWS_IMPORTS if aws else ())


def run_pytest(args: list[str]) -> int:
    """A request target: one ``pytest.main(args)`` run in the child."""
    import pytest

    return int(pytest.main([*IGNORE_REWRITE_WARNING, *args]))


PYTEST_TARGET = f"{__name__}:run_pytest"


def kill_group(group: int) -> None:
    """SIGKILL a process group, if it still exists."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


@dataclass(frozen=True)
class RunResult:
    """How one forked run ended."""

    exit_code: int | None
    """None when it was killed at its time limit (negative: the signal that ended it)."""
    duration_s: float
    cpu_s: float = 0.0
    """User and system CPU time of the run and the processes it waited for."""
    peak_rss_kb: int = 0

    @property
    def timed_out(self) -> bool:
        """Whether it was killed at its time limit."""
        return self.exit_code is None


def exit_status(result: RunResult | None) -> int:
    """A forked run's end as ``Popen.returncode`` would give it.

    SIGKILL's when it was killed at its time limit or no answer came (the server went
    away, or the client left it).
    """
    if result is None or result.exit_code is None:
        return -int(signal.SIGKILL)
    return result.exit_code


START_FAILURE_LIMIT = 600
"""How many characters of a server's error output :func:`start_failure` keeps."""


def start_failure(
    ready: Mapping[str, Any] | None,
    exit_code: int | None,
    late: float | None,
    errors: IO[bytes],
) -> str:
    """Why a server did not start, in one line: what it raised, said, or how it ended.

    ``ready``: its first answer, if any; ``exit_code``: how its process ended; ``late``:
    the seconds it was given, when it was not ready within them; ``errors``: its standard
    error, as a file.
    """
    if late is not None:
        return f"it was not ready within {late:g} s"
    if ready is not None and ready.get("why"):
        return f"{ready['why']} (while warming up)"
    if ready is not None:
        return f"its warm-up run ended with exit status {ready.get('ready')}"
    errors.seek(0)
    said = errors.read().decode(errors="replace").split("\n")
    lines = [line.strip() for line in said if line.strip()]
    if lines:
        return lines[-1][-START_FAILURE_LIMIT:]
    return f"it ended during its start-up (exit status {exit_code})"


class ServerGone(Exception):
    """The server died or stopped answering; the caller starts another or runs cold."""


class WarmServer:
    """A handle on one server process; :meth:`run` may be called from several threads.

    Either the process itself (:meth:`start`: its stdin and stdout carry the protocol) or a
    connection to a server another process started (:meth:`connect`).
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes] | None,
        *,
        connection: socket.socket | None = None,
        scratch: Path | None = None,
    ) -> None:
        self.process = process
        self._connection = connection
        self._scratch = scratch
        """The server's scratch folder where this process made it (see :meth:`start`)."""
        self._request_stream: IO[bytes]
        self._answer_stream: IO[bytes]
        if connection is not None:
            self._request_stream = connection.makefile("wb")
            self._answer_stream = connection.makefile("rb")
        else:
            assert process is not None
            assert process.stdin is not None
            assert process.stdout is not None
            self._request_stream, self._answer_stream = process.stdin, process.stdout
        self._lock = threading.Lock()
        self._next_id = 0
        self._answers: dict[int, dict[str, Any]] = {}
        self._waiting: dict[int, threading.Event] = {}
        self._on_start: dict[int, Callable[[int], None]] = {}
        self._gone = threading.Event()
        self._ready: dict[str, Any] | None = None
        self._ready_event = threading.Event()
        self._reader = threading.Thread(target=self._read_answers, daemon=True, name="warm")
        self._reader.start()

    @classmethod
    def start(
        cls,
        imports: Sequence[str],
        *,
        pytest_warmup: Sequence[str] | None = None,
        warmed_up: Sequence[int] = WARMED_UP,
        warmup_env: Mapping[str, str] | None = None,
        further_warmups: Sequence[tuple[Sequence[str], Mapping[str, str]]] = (),
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        python_flags: Sequence[str] = (),
        prefix: Sequence[str] = (),
        timeout_s: float = 120.0,
        listen: Path | None = None,
        mine_constants: bool = True,
        on_failure: Callable[[str], None] | None = None,
    ) -> WarmServer | None:
        """A warmed-up server, or None when it cannot start (or its warm-up run failed).

        ``pytest_warmup``: the arguments of a pytest run made once, before any request (a
        tutorial's ``--collect-only`` run imports its check modules and plugins; moto and
        boto3 too when the tutorial's front matter has an ``aws`` block), with
        ``warmup_env`` set during that run only; its exit code must be one of ``warmed_up``.
        ``further_warmups``: more such runs (arguments, environment) after it, whose exit codes
        are not checked: the first-use costs of the runs of servers this one will fork.
        ``prefix`` goes before the interpreter (a sandbox, limits, another uid). ``listen``:
        a Unix socket's path where other processes can :meth:`connect` once it is ready.
        ``mine_constants``: hypothesis looks at the imported modules once, in the server
        (:func:`~pytest_tutorial.hypothesis_warmup.mine_constants_before_forks`); worth its
        few hundredths of a second where the children run hypothesis tests.
        ``on_failure`` is called with why, when it cannot start (:func:`start_failure`).
        """
        if not hasattr(os, "fork"):
            if on_failure is not None:
                on_failure("this platform has no fork()")
            return None
        # Made here when the server sees this process's files (no prefix), so that :meth:`close`
        # removes it even after the server was killed; behind a prefix (a sandbox, another
        # uid) the server makes its own.
        scratch = None if prefix else Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
        config = {
            "imports": list(imports),
            "pytest_warmup": None if pytest_warmup is None else list(pytest_warmup),
            "warmup_env": dict(warmup_env or {}),
            "further_warmups": [{"args": list(a), "env": dict(e)} for a, e in further_warmups],
            "listen": None if listen is None else str(listen),
            "mine_constants": mine_constants,
            "scratch_root": None if scratch is None else str(scratch),
        }
        # The server's own stderr, read only when it could not start: an interpreter that
        # cannot find this package says so there, and nowhere else.
        with tempfile.TemporaryFile() as errors:
            try:
                process = subprocess.Popen(
                    [
                        *prefix,
                        sys.executable,
                        *python_flags,
                        "-m",
                        f"{__name__}.server",
                        json.dumps(config),
                    ],
                    cwd=cwd,
                    env=dict(env) if env is not None else None,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    start_new_session=True,
                )
            except OSError as error:
                if scratch is not None:
                    shutil.rmtree(scratch, ignore_errors=True)
                if on_failure is not None:
                    on_failure(f"{sys.executable} could not be started: {error}")
                return None
            server = cls(process, scratch=scratch)
            ready = server.warmed_up(timeout_s, warmed_up)
            if ready:
                return server
            server.close()
            if on_failure is not None:
                late = timeout_s if ready is None else None
                on_failure(start_failure(server._ready, process.returncode, late, errors))
        return None

    @classmethod
    def connect(cls, path: Path) -> WarmServer | None:
        """A handle on a ready server that listens at ``path``, or None when none answers."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(str(path))
        except OSError:
            connection.close()
            return None
        return cls(None, connection=connection)

    @property
    def alive(self) -> bool:
        """Whether the server still answers."""
        return not self._gone.is_set()

    def warmed_up(
        self, timeout_s: float | None, accepted: Sequence[int] = WARMED_UP
    ) -> bool | None:
        """Whether the server's warm-up ended with a code in ``accepted``.

        None when it has not said within ``timeout_s``; False once it went away.
        """
        if not self._ready_event.wait(timeout_s):
            return None
        return self._ready is not None and self._ready.get("ready") in accepted

    def run(
        self,
        target: str,
        payload: Any,
        *,
        output: Path | None,
        timeout_s: float | None,
        cwd: Path | None = None,
        env: Mapping[str, str | None] | None = None,
        environ: Mapping[str, str] | None = None,
        fds: Sequence[int] = (),
        on_start: Callable[[int], None] | None = None,
    ) -> RunResult:
        """One forked run of ``target(payload)``; raises :class:`ServerGone`.

        The child has the server's environment with ``env`` set on it (None unsets), or,
        given ``environ``, that whole environment instead (with ``env`` set on it). Its
        output goes to the file ``output``, or, when that is None, to the first of ``fds``:
        descriptors sent along (a connection only), which a dict ``payload`` gets as its
        ``fds`` entry, as they are numbered in the child. ``on_start`` is called with the
        child's pid, as the server sees it, once it is forked (on the reader's thread).
        """
        if fds and self._connection is None:
            raise ValueError("descriptors are sent only over a connection (WarmServer.connect)")
        done = threading.Event()
        with self._lock:
            # The reader, once it met the end of the answers, woke the runs it knew of under
            # this lock: a run asked for after that would wait out its limit for nothing. The
            # request itself may still be written: a child forked just before the server
            # died can hold the server's input open for a moment.
            if self._gone.is_set():
                raise ServerGone("the warm server is gone")
            self._next_id += 1
            request_id = self._next_id
            self._waiting[request_id] = done
            if on_start is not None:
                self._on_start[request_id] = on_start
            request = {
                "id": request_id,
                "target": target,
                "payload": payload,
                "output": None if output is None else str(output),
                "timeout": timeout_s,
                "cwd": None if cwd is None else str(cwd),
                "env": dict(env or {}),
                "environ": None if environ is None else dict(environ),
                "fds": len(fds),
                "tell_pid": on_start is not None,
            }
            try:
                line = json.dumps(request).encode() + b"\n"
                if fds and self._connection is not None:
                    socket.send_fds(self._connection, [line], list(fds))
                else:
                    self._request_stream.write(line)
                    self._request_stream.flush()
            except (OSError, ValueError) as error:
                self._waiting.pop(request_id, None)
                self._on_start.pop(request_id, None)
                self._gone.set()  # its end of the pipe is closed: it is gone, read or not
                raise ServerGone(str(error)) from None
        limit = None if timeout_s is None else timeout_s + ANSWER_GRACE_S
        done.wait(limit)
        with self._lock:
            self._waiting.pop(request_id, None)
            self._on_start.pop(request_id, None)
            answer = self._answers.pop(request_id, None)
        if answer is None:
            raise ServerGone("the warm server stopped answering")
        return RunResult(
            answer["exit_code"],
            float(answer["duration_s"]),
            float(answer.get("cpu_s", 0.0)),
            int(answer.get("peak_rss_kb", 0)),
        )

    def pytest(
        self,
        args: Sequence[str],
        *,
        output: Path,
        timeout_s: float | None,
        cwd: Path | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> RunResult:
        """One forked ``pytest.main(args)`` run."""
        return self.run(
            PYTEST_TARGET, list(args), output=output, timeout_s=timeout_s, cwd=cwd, env=env
        )

    def _read_answers(self) -> None:
        stream = self._answer_stream
        try:
            for line in stream:
                try:
                    answer = json.loads(line)
                except ValueError:
                    break
                if "ready" in answer:
                    self._ready = answer
                    self._ready_event.set()
                    continue
                if "started" in answer:
                    with self._lock:
                        told = self._on_start.pop(int(answer["started"]), None)
                    if told is not None:
                        told(int(answer["pid"]))
                    continue
                with self._lock:
                    event = self._waiting.get(int(answer["id"]))
                    if event is not None:
                        self._answers[int(answer["id"])] = answer
                        event.set()
        except (OSError, ValueError):
            pass
        finally:
            self._gone.set()
            self._ready_event.set()
            with self._lock:  # a run waiting for its answer learns now that none will come
                for event in self._waiting.values():
                    event.set()

    def close(self) -> None:
        """Stop the server and every run it is making (a connection: end this client's runs)."""
        if self.process is None:
            self._disconnect()
            return
        with contextlib.suppress(OSError, ValueError):
            if self.process.stdin is not None:
                self.process.stdin.close()  # end of input: the server kills its children
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            kill_group(self.process.pid)
            self.process.wait()
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            with contextlib.suppress(OSError):
                self.process.stdout.close()
        if self._scratch is not None:  # the server removes it, unless it was killed
            shutil.rmtree(self._scratch, ignore_errors=True)

    def _disconnect(self) -> None:
        """Leave a server this process connected to: it kills this client's runs, not itself."""
        assert self._connection is not None
        with contextlib.suppress(OSError):
            self._connection.shutdown(socket.SHUT_RDWR)
        self._reader.join(timeout=5)
        for stream in (self._request_stream, self._answer_stream):
            with contextlib.suppress(OSError, ValueError):
                stream.close()
        self._connection.close()
