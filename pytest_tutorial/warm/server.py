"""The warm server's process: warm up once, then fork one child per request.

``python -m pytest_tutorial.warm.server CONFIG`` (JSON: ``imports``, ``pytest_warmup``,
``warmup_env``, ``further_warmups``, ``listen``, ``mine_constants``, ``scratch_root``: a
folder the starting process made for the server's scratch, else the server makes one); the
protocol and the clean-start rule are in :mod:`pytest_tutorial.warm`. With ``listen`` (a
Unix socket's path) other processes connect and send requests as the starting process does
on stdin; each gets the answers to its own requests, and its runs are killed when it
disconnects.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pytest_tutorial.hypothesis_warmup import mine_constants_before_forks
from pytest_tutorial.warm import (
    AWS_IMPORTS,
    HYPOTHESIS_STORAGE,
    IGNORE_REWRITE_WARNING,
    REDIS_IMPORTS,
    SCRATCH_PREFIX,
    kill_group,
)
from pytest_tutorial.warm.rewritten import share_rewritten_modules

MAX_FDS = 8
"""Descriptors one message on a connection may carry."""


@dataclass
class _Client:
    """Where requests come from and answers go: stdin and stdout, or a connection."""

    requests_fd: int
    replies: IO[str]
    buffer: bytes = b""
    connection: socket.socket | None = None
    """A connection's socket: its requests may carry file descriptors."""
    received: list[int] = field(default_factory=list)
    """Descriptors received and not yet handed to a request (in the order sent)."""


@dataclass
class _Child:
    request_id: int
    started: float
    deadline: float | None
    scratch: Path | None
    """The hypothesis folder the server made for this run (removed after it)."""
    client: _Client


class _Server:
    """Forks a child per request and answers as each one ends."""

    def __init__(
        self,
        requests_fd: int,
        replies: IO[str],
        listener: socket.socket | None = None,
        *,
        connection: socket.socket | None = None,
        scratch_root: str | None = None,
    ) -> None:
        self.main = _Client(requests_fd, replies, connection=connection)
        self.listener = listener
        self.connections: dict[int, tuple[socket.socket, _Client]] = {}
        self.children: dict[int, _Child] = {}
        self.scratch_root = (
            Path(scratch_root) if scratch_root else Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
        )

    def loop(self) -> None:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        os.set_blocking(wake_read, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        open_input = True
        try:
            while open_input or self.children:
                watched = [wake_read, *self.connections]
                if open_input:
                    watched.append(self.main.requests_fd)
                    if self.listener is not None:
                        watched.append(self.listener.fileno())
                ready, _, _ = select.select(watched, [], [], self._wait())
                if wake_read in ready:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_read, 4096)
                if self.main.requests_fd in ready:
                    open_input = self._read_requests(self.main)
                    if not open_input:
                        self.kill_all()
                        self._disconnect_all()
                if self.listener is not None and self.listener.fileno() in ready and open_input:
                    self._accept()
                for fd in [fd for fd in self.connections if fd in ready]:
                    if not self._read_requests(self.connections[fd][1]):
                        self._disconnect(fd)
                self._reap()
        finally:
            self.kill_all()
            self._disconnect_all()

    def _accept(self) -> None:
        assert self.listener is not None
        try:
            connection, _ = self.listener.accept()
        except OSError:
            return
        replies = connection.makefile("w", encoding="utf-8")
        client = _Client(connection.fileno(), replies, connection=connection)
        self.connections[connection.fileno()] = (connection, client)

    def _disconnect(self, fd: int) -> None:
        """A client left: its runs are killed, as the main client's are at end of input."""
        connection, client = self.connections.pop(fd)
        for pid, child in list(self.children.items()):
            if child.client is client:
                kill_group(pid)
        with contextlib.suppress(OSError):
            client.replies.close()
        _close_all(client.received)
        connection.close()

    def _disconnect_all(self) -> None:
        for fd in list(self.connections):
            self._disconnect(fd)

    def _wait(self) -> float | None:
        deadlines = [c.deadline for c in self.children.values() if c.deadline is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _read_requests(self, client: _Client) -> bool:
        try:
            if client.connection is not None:
                chunk, fds, _, _ = socket.recv_fds(client.connection, 65536, MAX_FDS)
                client.received += fds
            else:
                chunk = os.read(client.requests_fd, 65536)
        except OSError:
            return False
        if not chunk:
            return False
        client.buffer += chunk
        while b"\n" in client.buffer:
            line, client.buffer = client.buffer.split(b"\n", 1)
            if line.strip():
                try:
                    request = json.loads(line)
                    count = int(request.get("fds") or 0)
                except (ValueError, TypeError, AttributeError):
                    return False
                if count > len(client.received):
                    return False
                fds, client.received = client.received[:count], client.received[count:]
                try:
                    self._fork(request, client, fds)
                finally:
                    _close_all(fds)  # the child's now, not the server's
        return True

    def _fork(self, request: dict[str, Any], client: _Client, fds: list[int]) -> None:
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
        server_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            self._close_sockets()
            _child(request, env, fds, server_pid)  # never returns
        timeout = request.get("timeout")
        deadline = None if timeout is None else started + float(timeout)
        self.children[pid] = _Child(int(request["id"]), started, deadline, scratch, client)
        if request.get("tell_pid"):  # the caller watches the child's threads by its pid
            with contextlib.suppress(OSError, ValueError):
                _reply(client.replies, {"started": int(request["id"]), "pid": pid})

    def _close_sockets(self) -> None:
        """In a child: the server's sockets and its replies are not the run's.

        A run left holding the replies could answer for another run.
        """
        with contextlib.suppress(OSError):
            if self.listener is not None:
                self.listener.close()
            for connection, _ in self.connections.values():
                connection.close()
        with contextlib.suppress(OSError, ValueError):
            self.main.replies.close()
        if self.main.connection is not None:
            with contextlib.suppress(OSError):
                self.main.connection.close()

    def _reap(self) -> None:
        now = time.monotonic()
        for pid, child in list(self.children.items()):
            done, status, usage = os.wait4(pid, os.WNOHANG)
            exit_code: int | None
            if done:
                exit_code = os.waitstatus_to_exitcode(status)
            elif child.deadline is not None and now >= child.deadline:
                kill_group(pid)
                _, _, usage = os.wait4(pid, 0)
                exit_code = None
            else:
                continue
            kill_group(pid)  # whatever the run left behind in its group
            del self.children[pid]
            if child.scratch is not None:
                shutil.rmtree(child.scratch, ignore_errors=True)
            duration = time.monotonic() - child.started
            with contextlib.suppress(OSError, ValueError):  # a client that left gets no answer
                _reply(
                    child.client.replies,
                    {
                        "id": child.request_id,
                        "exit_code": exit_code,
                        "duration_s": duration,
                        "cpu_s": usage.ru_utime + usage.ru_stime,
                        "peak_rss_kb": usage.ru_maxrss,
                    },
                )

    def kill_all(self) -> None:
        for pid in list(self.children):
            kill_group(pid)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            del self.children[pid]


def _child(
    request: dict[str, Any], env: Mapping[str, str | None], fds: list[int], server_pid: int
) -> None:
    """In the forked child: set up a clean start, call the target, exit with its code."""
    code = 3
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        os.setsid()
        _die_with_server(server_pid)
        if request.get("output") is not None:
            out = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        else:  # the first descriptor sent with the request
            out = os.dup(fds[0])
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
        payload = request.get("payload")
        if fds and isinstance(payload, dict):
            payload = {**payload, "fds": fds}
        code = int(target(payload))
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


def _close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _die_with_server(server_pid: int) -> None:
    """Linux: the child is killed when the server dies, even by SIGKILL.

    If the server died before the child asked for that signal, none will come (the child
    already has another parent): it ends at once, as nobody would read its result or end
    it past its limit.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != server_pid:
        os._exit(3)


def _fresh_hypothesis() -> None:
    """Hypothesis' home follows the child's environment and folder, as in a new process."""
    configuration = sys.modules.get("hypothesis.configuration")
    if configuration is not None:
        configuration.set_hypothesis_home_dir(None)
        # computed at import time from the server's folder; a new process computes it in its own
        setattr(configuration, "__hypothesis_home_directory_default", Path.cwd() / ".hypothesis")


def _reply(replies: IO[str], message: dict[str, Any]) -> None:
    replies.write(json.dumps(message) + "\n")
    replies.flush()


def _quietly(action: Callable[[], int]) -> tuple[int, str | None]:
    """Run ``action`` with fds 1 and 2 on /dev/null (the replies have their own fd).

    Its exit code, and what it raised, if it did (exit code 3, pytest's internal error).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1), os.dup(2)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        return action(), None
    except BaseException as error:  # the client is told why, and starts no run
        return 3, "".join(traceback.format_exception_only(error)).strip()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        _close_all((devnull, *saved))  # or every run would inherit them


class _AwsWhenTheTutorialNeedsIt:
    """Warm-up plugin: imports moto and boto3 when the tutorial's front matter has ``aws``."""

    @staticmethod
    def pytest_collection_finish(session: Any) -> None:
        from pytest_tutorial.session import SESSION_KEY

        tutorial_session = session.config.stash.get(SESSION_KEY, None)
        validation = None if tutorial_session is None else tutorial_session.tutorial.validation
        if validation is not None and validation.aws is not None:
            _import_all(AWS_IMPORTS)


class _StrategiesOfTheChecksValidated:
    """Warm-up plugin: validates the hypothesis strategies the check modules define.

    hypothesis builds a strategy lazily, when a property check first draws from it:
    ``st.text()``'s alphabet, each character category's intervals, a recursive strategy's
    branches. For caching's two strategies that is 35 to 60 ms of CPU, which every child
    forked for a run of the checks (a graded submission, a ``watch`` rerun) spent again.
    Validated here, in the server, the children find them built. The strategies are the
    checks' own, drawn from in every run alike: a child learns nothing from them.
    """

    @staticmethod
    def pytest_collection_finish(session: Any) -> None:
        strategies = sys.modules.get("hypothesis.strategies")
        if strategies is None:
            return
        found = (getattr(item, "module", None) for item in session.items)
        modules = {id(module): module for module in found if module is not None}
        for module in modules.values():
            for value in list(vars(module).values()):
                if isinstance(value, strategies.SearchStrategy):
                    with contextlib.suppress(Exception):  # the check reports it, as before
                        value.validate()


def _import_all(names: Sequence[str]) -> None:
    for name in names:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    if AWS_IMPORTS[0] in names:
        _first_use_of_moto()
    if REDIS_IMPORTS[0] in names:
        _first_use_of_fakeredis()


def _first_use_of_moto() -> None:
    """Pay moto's and botocore's first-use costs once: a mock, clients, one read each.

    A process's first mocked call loads service models, builds client classes and moto's
    URL tables (about 0.15 s a run of a learner's AWS tests). The calls here only list
    (no bucket, table or queue is made), and every ``mock_aws`` a run starts resets moto's
    backends: a run cannot see them.
    """
    with contextlib.suppress(Exception):
        import boto3
        from moto import mock_aws

        with mock_aws():
            session = boto3.Session(
                region_name="us-east-1",
                aws_access_key_id="warm-up",
                aws_secret_access_key="warm-up",
            )
            session.client("s3").list_buckets()
            session.client("dynamodb").list_tables()
            session.client("sqs").list_queues()


def _first_use_of_fakeredis() -> None:
    """Pay fakeredis' and redis-py's first-use costs once: the command table, a client.

    A process's first fake server loads and encodes fakeredis' table of Redis commands, and
    its first client sets up redis-py's connection (about 10 ms of CPU in each run of the
    learner's tests and each grading child, 3 ms once done here). The server made here is
    a private one, outside fakeredis' table of shared servers, and is dropped after one
    write and one read: no run can see it. Servers made afterwards make each database once
    (:mod:`pytest_tutorial.fakeredis_databases`).
    """
    with contextlib.suppress(Exception):
        import fakeredis

        from pytest_tutorial.fakeredis_databases import make_database_creation_atomic

        make_database_creation_atomic()  # the servers the learner's tests make
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        client.set("warm-up", "1")
        client.get("warm-up")
        client.close()


def _warm_up(
    imports: Sequence[str],
    pytest_warmup: Sequence[str] | None,
    env: Mapping[str, str],
    further: Sequence[Mapping[str, Any]] = (),
) -> tuple[int, str | None]:
    """Import ``imports``, then make the warm-up run (``env`` set only during it).

    ``further`` warm-up runs (``args``, ``env``) follow; their exit codes are not checked.
    Returns the warm-up run's exit code and, when an import or the run raised, what.
    """

    def action() -> int:
        _import_all((*imports, "ctypes"))
        if pytest_warmup is None:
            return 0
        _freeze_the_heap()  # the warm-up run's last collections then skip what was imported
        code = _pytest_run(pytest_warmup, env)
        for run in further:
            _pytest_run(run["args"], run.get("env", {}))
        return code

    return _quietly(action)


def _pytest_run(args: Sequence[str], env: Mapping[str, str]) -> int:
    """One ``pytest.main`` run in the server, with ``env`` set during it only."""
    import pytest

    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        plugins = [_AwsWhenTheTutorialNeedsIt(), _StrategiesOfTheChecksValidated()]
        return int(pytest.main([*IGNORE_REWRITE_WARNING, *args], plugins=plugins))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main() -> None:
    """``python -m pytest_tutorial.warm CONFIG`` (JSON: imports, pytest_warmup, warmup_env)."""
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")  # before pytest can touch fd 1
    config = json.loads(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    serve(config, sys.stdin.fileno(), replies)
    # Served to the end: its children are killed and its folder removed. It leaves without
    # tearing its interpreter down (a heap of the warm-up's imports: 15 to 30 ms), which
    # the client's close waits for at the end of every tutorial run.
    for stream in (replies, sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def serve(
    config: Mapping[str, Any],
    requests_fd: int,
    replies: IO[str],
    connection: socket.socket | None = None,
) -> None:
    """Warm up as ``config`` says, answer ready, then serve until the requests end.

    The requests come on ``requests_fd``, or on ``connection`` (a socket: they may carry
    descriptors) when a process already warm became this server by fork.
    """
    given_root = config.get("scratch_root")
    server = None
    try:
        code, why = _warm_up(
            config.get("imports", ()),
            config.get("pytest_warmup"),
            config.get("warmup_env", {}),
            config.get("further_warmups", ()),
        )
        listener = None
        if config.get("listen"):
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                listener.bind(str(config["listen"]))
            except OSError:  # its folder is gone (its client ended meanwhile) or the path taken
                listener.close()
                return
            listener.listen()
        server = _Server(
            requests_fd, replies, listener, connection=connection, scratch_root=given_root
        )
        share_rewritten_modules(server.scratch_root / "rewritten")
        if config.get("mine_constants", True):
            mine_constants_before_forks()
        _freeze_the_heap()
        try:
            _reply(replies, {"ready": code} if why is None else {"ready": code, "why": why})
        except OSError:  # the client went away during the warm-up: nobody to serve
            return
        server.loop()
    finally:  # however it ends but SIGKILL (a client gone, SIGTERM): no folder is left in the tmp
        root = server.scratch_root if server is not None else given_root
        if root:
            shutil.rmtree(root, ignore_errors=True)


def _freeze_the_heap() -> None:
    """Keep what the warm-up built out of every child's garbage collections.

    pytest collects garbage when a run ends (to report unraisable exceptions), and a
    collection walks every object tracked: with pytest, hypothesis, moto and boto3 loaded,
    a few hundred milliseconds a run, spent on objects that live as long as the child does.
    Frozen (after one last collection) they are skipped; what a run creates is collected
    as before. Called after the imports too, so that the warm-up run's own five collections
    at its end (0.19 s of a server's start, measured) skip them as well.
    """
    gc.collect()
    gc.freeze()


if __name__ == "__main__":
    main()
