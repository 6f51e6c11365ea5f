"""A warm process that serves runs by fork, so a run skips Python's and pytest's start-up.

Starting Python and importing pytest, its plugins, hypothesis, fakeredis (and moto and boto3
for AWS tutorials) costs more than most runs it serves. A :class:`WarmServer` is one
long-lived process that does those imports once (``imports``, and optionally a
``--collect-only`` pytest run that imports a tutorial's check modules), then forks one child
per request. The learner-tests runs, ``watch``'s reruns and ``verify``'s mutants all use it.

**The clean-start rule.** A forked child starts as a fresh process would, with the imports
already done:

- the server never imports learner code and never runs a request itself: every child is a
  copy of the same untouched state, so nothing one run did in memory (a module-level
  counter, a learner module in ``sys.modules``, a fake Redis server, moto's backends,
  hypothesis' in-memory state) can be seen by the next run;
- files are the one thing a run can leave behind: each child gets a hypothesis storage
  folder of its own (``HYPOTHESIS_STORAGE_DIRECTORY``, removed after the run) unless the
  request names one, and hypothesis' home folder is reset so it follows that variable;
- each child runs in its own session (so its process group is killed as a whole), with
  the request's working folder and environment, stdin from ``/dev/null`` and stdout and
  stderr to the request's output file; past its wall-clock limit its group is killed, and
  whatever it left running in its group is killed when it ends.

The server is single-threaded (it forks, so no other thread may hold a lock at that
moment) and event-driven: it sleeps in ``select`` on its requests and on ``SIGCHLD``.

Protocol: one JSON object per line. The server first answers ``{"ready": CODE}`` (CODE is the
warm-up run's exit code, 0 without one); each request ``{"id", "target": "module:function",
"payload", "output", "timeout", "cwd", "env"}`` gets ``{"id", "exit_code", "duration_s"}``
(``exit_code`` null at the time limit) when its child ends. Requests are served at once, so
several children can run together. End of input ends the server and its children.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

IGNORE_REWRITE_WARNING = ("-W", "ignore::pytest.PytestAssertRewriteWarning")
"""Modules the warm-up imported cannot be rewritten again; pytest warns (an error under
``filterwarnings = error``). Added to every pytest run made by :func:`run_pytest`."""
WARMED_UP = (0, 1)
"""Exit codes of a warm-up run that collected (a tutorial run exits 1 unless validated)."""
HYPOTHESIS_STORAGE = "HYPOTHESIS_STORAGE_DIRECTORY"
ANSWER_GRACE_S = 30.0
"""How long after a run's time limit the client waits for the server's answer."""
BASE_IMPORTS = ("pytest", "hypothesis", "_hypothesis_pytestplugin", "pytest_asyncio.plugin")
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
)
"""moto's services are imported lazily, on a mock's first request: the ones the bundled
tutorials use are imported once here (importing creates no backend)."""


def warm_imports(*, aws: bool) -> tuple[str, ...]:
    """What a run of a tutorial needs imported: pytest, plugins, hypothesis, fakes."""
    return BASE_IMPORTS + REDIS_IMPORTS + (AWS_IMPORTS if aws else ())


def run_pytest(args: list[str]) -> int:
    """A request target: one ``pytest.main(args)`` run in the child."""
    import pytest

    return int(pytest.main([*IGNORE_REWRITE_WARNING, *args]))


PYTEST_TARGET = f"{__name__}:run_pytest"


# --- the server (its own process) ---------------------------------------------------------


@dataclass
class _Child:
    request_id: int
    started: float
    deadline: float | None
    scratch: Path | None
    """The hypothesis folder the server made for this run (removed after it)."""


class _Server:
    """Forks a child per request and answers as each one ends."""

    def __init__(self, requests_fd: int, replies: IO[str]) -> None:
        self.requests_fd = requests_fd
        self.replies = replies
        self.children: dict[int, _Child] = {}
        self.buffer = b""
        self.scratch_root = Path(tempfile.mkdtemp(prefix="pytest-tutorial-warm-"))

    def loop(self) -> None:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        os.set_blocking(wake_read, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        open_input = True
        try:
            while open_input or self.children:
                ready, _, _ = select.select(
                    [wake_read, *([self.requests_fd] if open_input else [])], [], [], self._wait()
                )
                if wake_read in ready:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_read, 4096)
                if self.requests_fd in ready:
                    open_input = self._read_requests()
                    if not open_input:
                        self.kill_all()
                self._reap()
        finally:
            self.kill_all()
            shutil.rmtree(self.scratch_root, ignore_errors=True)

    def _wait(self) -> float | None:
        deadlines = [c.deadline for c in self.children.values() if c.deadline is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _read_requests(self) -> bool:
        chunk = os.read(self.requests_fd, 65536)
        if not chunk:
            return False
        self.buffer += chunk
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            if line.strip():
                self._fork(json.loads(line))
        return True

    def _fork(self, request: dict[str, Any]) -> None:
        env: dict[str, str | None] = dict(request.get("env") or {})
        environ = request.get("environ")
        if environ is not None:  # the whole environment: unset what it does not hold
            env = {**dict.fromkeys(os.environ), **environ, **env}
        scratch = None
        if env.get(HYPOTHESIS_STORAGE) is None:
            scratch = Path(tempfile.mkdtemp(dir=self.scratch_root))
            env[HYPOTHESIS_STORAGE] = str(scratch)
        sys.stdout.flush()
        sys.stderr.flush()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(request, env)  # never returns
        timeout = request.get("timeout")
        deadline = None if timeout is None else started + float(timeout)
        self.children[pid] = _Child(int(request["id"]), started, deadline, scratch)

    def _reap(self) -> None:
        now = time.monotonic()
        for pid, child in list(self.children.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            exit_code: int | None
            if done:
                exit_code = os.waitstatus_to_exitcode(status)
            elif child.deadline is not None and now >= child.deadline:
                _kill_group(pid)
                os.waitpid(pid, 0)
                exit_code = None
            else:
                continue
            _kill_group(pid)  # whatever the run left behind in its group
            del self.children[pid]
            if child.scratch is not None:
                shutil.rmtree(child.scratch, ignore_errors=True)
            duration = time.monotonic() - child.started
            _reply(
                self.replies,
                {"id": child.request_id, "exit_code": exit_code, "duration_s": duration},
            )

    def kill_all(self) -> None:
        for pid in list(self.children):
            _kill_group(pid)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            del self.children[pid]


def _child(request: dict[str, Any], env: Mapping[str, str | None]) -> None:
    """In the forked child: set up a clean start, call the target, exit with its code."""
    code = 3
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        os.setsid()
        _die_with_server()
        out = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        stdin = os.open(os.devnull, os.O_RDONLY)
        os.dup2(stdin, 0)
        os.close(stdin)
        if request.get("cwd"):
            os.chdir(request["cwd"])
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _fresh_hypothesis()
        module, _, function = str(request["target"]).partition(":")
        target: Callable[[Any], int] = getattr(importlib.import_module(module), function)
        code = int(target(request.get("payload")))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _die_with_server() -> None:
    """Linux: the child is killed when the server dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _fresh_hypothesis() -> None:
    """Hypothesis' home follows the child's environment and folder, as in a new process."""
    configuration = sys.modules.get("hypothesis.configuration")
    if configuration is not None:
        configuration.set_hypothesis_home_dir(None)
        # computed at import time from the server's folder; a new process computes it in its own
        setattr(configuration, "__hypothesis_home_directory_default", Path.cwd() / ".hypothesis")


def _kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def _reply(replies: IO[str], message: dict[str, Any]) -> None:
    replies.write(json.dumps(message) + "\n")
    replies.flush()


def _quietly(action: Callable[[], int]) -> int:
    """Run ``action`` with fds 1 and 2 on /dev/null (the replies have their own fd)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1), os.dup(2)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        return action()
    except BaseException:
        return 3
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(devnull)


class _AwsWhenTheTutorialNeedsIt:
    """Warm-up plugin: imports moto and boto3 when the tutorial's front matter has ``aws``."""

    @staticmethod
    def pytest_collection_finish(session: Any) -> None:
        from pytest_tutorial.session import SESSION_KEY

        tutorial_session = session.config.stash.get(SESSION_KEY, None)
        validation = None if tutorial_session is None else tutorial_session.tutorial.validation
        if validation is not None and validation.aws is not None:
            _import_all(AWS_IMPORTS)


def _import_all(names: Sequence[str]) -> None:
    for name in names:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _warm_up(
    imports: Sequence[str], pytest_warmup: Sequence[str] | None, env: Mapping[str, str]
) -> int:
    """Import ``imports``, then make the warm-up run (``env`` set only during it)."""

    def action() -> int:
        _import_all((*imports, "ctypes"))
        if pytest_warmup is None:
            return 0
        import pytest

        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            plugins = [_AwsWhenTheTutorialNeedsIt()]
            return int(pytest.main([*IGNORE_REWRITE_WARNING, *pytest_warmup], plugins=plugins))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    return _quietly(action)


def main() -> None:
    """``python -m pytest_tutorial.warm CONFIG`` (JSON: imports, pytest_warmup, warmup_env)."""
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")  # before pytest can touch fd 1
    config = json.loads(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    code = _warm_up(
        config.get("imports", ()), config.get("pytest_warmup"), config.get("warmup_env", {})
    )
    _reply(replies, {"ready": code})
    _Server(sys.stdin.fileno(), replies).loop()


# --- the client ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    """How one forked run ended."""

    exit_code: int | None
    """None when it was killed at its time limit."""
    duration_s: float

    @property
    def timed_out(self) -> bool:
        """Whether it was killed at its time limit."""
        return self.exit_code is None


class ServerGone(Exception):
    """The server died or stopped answering; the caller starts another or runs cold."""


class WarmServer:
    """A handle on one server process; :meth:`run` may be called from several threads."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self._lock = threading.Lock()
        self._next_id = 0
        self._answers: dict[int, dict[str, Any]] = {}
        self._waiting: dict[int, threading.Event] = {}
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
        warmup_env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        python_flags: Sequence[str] = (),
        timeout_s: float = 120.0,
    ) -> WarmServer | None:
        """A warmed-up server, or None when it cannot start (or its warm-up run failed).

        ``pytest_warmup``: the arguments of a pytest run made once, before any request (a
        tutorial's ``--collect-only`` run imports its check modules and plugins; moto and
        boto3 too when the tutorial's front matter has an ``aws`` block), with
        ``warmup_env`` set during that run only.
        """
        if not hasattr(os, "fork"):
            return None
        config = {
            "imports": list(imports),
            "pytest_warmup": None if pytest_warmup is None else list(pytest_warmup),
            "warmup_env": dict(warmup_env or {}),
        }
        try:
            process = subprocess.Popen(
                [sys.executable, *python_flags, "-m", __name__, json.dumps(config)],
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            return None
        server = cls(process)
        server._ready_event.wait(timeout_s)
        if server._ready is None or server._ready.get("ready") not in WARMED_UP:
            server.close()
            return None
        return server

    @property
    def alive(self) -> bool:
        """Whether the server still answers."""
        return not self._gone.is_set()

    def run(
        self,
        target: str,
        payload: Any,
        *,
        output: Path,
        timeout_s: float | None,
        cwd: Path | None = None,
        env: Mapping[str, str | None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> RunResult:
        """One forked run of ``target(payload)``; raises :class:`ServerGone`.

        The child has the server's environment with ``env`` set on it (None unsets), or,
        given ``environ``, that whole environment instead (with ``env`` set on it).
        """
        done = threading.Event()
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
            self._waiting[request_id] = done
            request = {
                "id": request_id,
                "target": target,
                "payload": payload,
                "output": str(output),
                "timeout": timeout_s,
                "cwd": None if cwd is None else str(cwd),
                "env": dict(env or {}),
                "environ": None if environ is None else dict(environ),
            }
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(json.dumps(request).encode() + b"\n")
                self.process.stdin.flush()
            except (OSError, ValueError) as error:
                self._waiting.pop(request_id, None)
                raise ServerGone(str(error)) from None
        limit = None if timeout_s is None else timeout_s + ANSWER_GRACE_S
        done.wait(limit)
        with self._lock:
            self._waiting.pop(request_id, None)
            answer = self._answers.pop(request_id, None)
        if answer is None:
            raise ServerGone("the warm server stopped answering")
        return RunResult(answer["exit_code"], float(answer["duration_s"]))

    def pytest(
        self, args: Sequence[str], *, output: Path, timeout_s: float | None, cwd: Path | None = None
    ) -> RunResult:
        """One forked ``pytest.main(args)`` run."""
        return self.run(PYTEST_TARGET, list(args), output=output, timeout_s=timeout_s, cwd=cwd)

    def _read_answers(self) -> None:
        stream = self.process.stdout
        assert stream is not None
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
            with self._lock:
                for event in self._waiting.values():
                    event.set()

    def close(self) -> None:
        """Stop the server and every run it is making."""
        with contextlib.suppress(OSError, ValueError):
            if self.process.stdin is not None:
                self.process.stdin.close()  # end of input: the server kills its children
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill_group(self.process.pid)
            self.process.wait()
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            with contextlib.suppress(OSError):
                self.process.stdout.close()


if __name__ == "__main__":
    main()
