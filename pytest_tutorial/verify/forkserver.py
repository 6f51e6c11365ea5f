"""A warm pytest that forks one child per mutant, so mutants skip pytest's start-up.

Starting ``python -m pytest`` and importing pytest, its plugins and the tutorial's
dependencies costs more than running a tutorial's checks. The server runs one
``--collect-only`` pass of the tutorial (against an empty solution folder, so nothing of
the solution is imported and nothing starts in the background), then, for each request,
forks: the child is a fresh pytest run in its own process group with the imports already
done. The child's output goes to a file; past the time limit its whole group is killed.

Protocol: one JSON object per line. The server first answers ``{"ready": EXIT_CODE}``;
then each request ``{"args": [...], "output": PATH, "timeout": SECONDS}`` gets
``{"exit_code": N or null, "duration_s": S}``. End of input ends the server.

A server that cannot start or dies is replaced by plain ``python -m pytest`` runs
(:func:`pytest_tutorial.verify.runs.run_pytest`): the results are the same, only slower.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

IGNORE_REWRITE_WARNING = ("-W", "ignore::pytest.PytestAssertRewriteWarning")
"""Modules the warm-up imported cannot be rewritten again; pytest warns (an error under
``filterwarnings = error``). Added to every run the server makes."""
_POLL_S = 0.01
WARMED_UP = (0, 1)
"""Exit codes of a warm-up that collected the checks (a tutorial run exits 1 unless validated)."""


# --- the server (its own process) ---------------------------------------------------------


_RUNNING: set[int] = set()
"""The process group of the child running now (killed with the server on SIGTERM)."""


def _terminate(signum: int, frame: object) -> None:
    for group in _RUNNING:
        _kill(group)
    os._exit(128 + signum)


def serve(warmup: Sequence[str], requests: IO[str], replies: IO[str]) -> None:
    """Warm up with ``pytest.main(warmup)``, then fork one child per request."""
    import pytest

    signal.signal(signal.SIGTERM, _terminate)

    code = _quietly(lambda: int(pytest.main([*IGNORE_REWRITE_WARNING, *warmup])))
    _reply(replies, {"ready": code})
    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        _reply(replies, _fork_run(request["args"], Path(request["output"]), request["timeout"]))


def _quietly(action: Callable[[], int]) -> int:
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


def _fork_run(args: list[str], output: Path, timeout: float | None) -> dict[str, Any]:
    sys.stdout.flush()
    sys.stderr.flush()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: one pytest run, then out without any cleanup of the parent's
        code = 3
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.setsid()
            out = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(out, 1)
            os.dup2(out, 2)
            stdin = os.open(os.devnull, os.O_RDONLY)
            os.dup2(stdin, 0)
            import pytest

            code = int(pytest.main([*IGNORE_REWRITE_WARNING, *args]))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _RUNNING.add(pid)
    exit_code: int | None = None
    deadline = None if timeout is None else started + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            exit_code = os.waitstatus_to_exitcode(status)
            break
        if deadline is not None and time.perf_counter() > deadline:
            _kill(pid)
            os.waitpid(pid, 0)
            break
        time.sleep(_POLL_S)
    _kill(pid)  # whatever the run left behind in its group
    _RUNNING.discard(pid)
    return {"exit_code": exit_code, "duration_s": time.perf_counter() - started}


def _kill(group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def _reply(replies: IO[str], message: dict[str, Any]) -> None:
    replies.write(json.dumps(message) + "\n")
    replies.flush()


def main() -> None:
    """``python -m pytest_tutorial.verify.forkserver WARMUP_ARGS...``."""
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")  # before pytest can touch fd 1
    serve(sys.argv[1:], sys.stdin, replies)


# --- the client (in verify) ----------------------------------------------------------------


class ForkServer:
    """verify's handle on one server process; one request at a time."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    @classmethod
    def start(
        cls, warmup: Sequence[str], *, cwd: Path, env: dict[str, str], timeout_s: float
    ) -> ForkServer | None:
        """A warmed-up server, or None when the warm-up did not collect the checks."""
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest_tutorial.verify.forkserver", *warmup],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        server = cls(process)
        answer = server._read(timeout_s)
        if answer is None or answer.get("ready") not in WARMED_UP:
            server.close()
            return None
        return server

    def run(self, args: Sequence[str], output: Path, timeout_s: float) -> tuple[int | None, float]:
        """One forked pytest run: (exit code or None at the time limit, duration)."""
        assert self.process.stdin is not None
        request = {"args": list(args), "output": str(output), "timeout": timeout_s}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError as error:
            raise ServerGone(str(error)) from None
        answer = self._read(timeout_s + 30)
        if answer is None:
            raise ServerGone("the fork server stopped answering")
        return answer["exit_code"], float(answer["duration_s"])

    def _read(self, timeout_s: float) -> dict[str, Any] | None:
        stream = self.process.stdout
        assert stream is not None
        ready, _, _ = select.select([stream], [], [], timeout_s)
        if not ready:
            return None
        line = stream.readline()
        if not line:
            return None
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        """Stop the server and the run it is making, if any."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        with contextlib.suppress(OSError):
            self.process.terminate()  # SIGTERM: the server kills its running child first
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill(self.process.pid)
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


class ServerGone(Exception):
    """The server died or stopped answering; the caller falls back to plain runs."""


if __name__ == "__main__":
    main()
