"""Grade one submission: fresh copy, contained child, watched until it ends, report.

The parent reads two pipes from the child, its output (kept up to the output cap; past
it the child is stopped) and the result stream, until the child exits or the wall-clock
limit runs out; then it kills whatever of the submission is left and builds the report
from what was streamed. Nothing the child writes is trusted to be a report.
"""

from __future__ import annotations

import os
import secrets
import selectors
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_tutorial.bundled import packaged_references
from pytest_tutorial.discovery import BUNDLED_ROOT, TutorialSource
from pytest_tutorial.model import Tutorial
from pytest_tutorial.scoring import CheckSpec, Scorecard

from . import archive, results, sandbox, stream

PYTEST_FINISHED = (0, 1, 5)
"""pytest's exit statuses of a run that went through every selected check."""
EXIT_GRACE_S = 1.0
"""How long to keep reading after the child exited (a grandchild may hold the pipes)."""


@dataclass(frozen=True)
class Plan:
    """What every submission of a batch shares."""

    tutorial: Tutorial
    source: TutorialSource
    tutorial_paths: tuple[Path, ...]
    specs: tuple[CheckSpec, ...]
    limits: sandbox.Limits
    box: sandbox.Sandbox
    workdir: Path
    out: Path
    feed: bytes
    """The tutorial's files as a tar, fed to a sandboxed child (empty without a sandbox)."""
    check_timeout: float | None = None
    keyword: str | None = None
    keep_workdirs: bool = False
    run_id: str = ""

    @property
    def hidden(self) -> list[Path]:
        """Tutorial folders covered by a tmpfs inside the sandbox."""
        return hidden_roots(self.source, self.tutorial_paths)

    @property
    def module_file(self) -> str:
        """The tutorial's solution module as a relative file name."""
        assert self.tutorial.validation is not None
        return self.tutorial.validation.solution.module.replace(".", "/") + ".py"


def hidden_roots(source: TutorialSource, tutorial_paths: Sequence[Path]) -> list[Path]:
    """The folders a tmpfs covers inside the sandbox.

    Every folder tutorials are found in (none of their checks may be readable inside), and
    the package's own copies of the reference solutions (a wheel install ships them).
    """
    roots = [*tutorial_paths, BUNDLED_ROOT, source.directory.parent, *packaged_references()]
    return sorted({root.resolve() for root in roots}, key=lambda path: len(path.parts))


@dataclass(frozen=True)
class Job:
    """One submission of the batch."""

    index: int
    source: Path
    ident: str


@dataclass
class Graded:
    """One graded submission: its report and what the parent saw."""

    job: Job
    report: dict[str, Any]
    card: Scorecard
    outcome: results.Outcome
    output: bytes
    output_truncated: bool


class _Capture:
    """The child's output up to a cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> bool:
        """Keep what fits; True once the total passed the cap."""
        self.total += len(chunk)
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        return self.total > self.limit


def grade(plan: Plan, job: Job, slot: int) -> Graded:
    """Grade ``job`` in job slot ``slot``; never raises for anything the submission does."""
    started_at, started = datetime.now(UTC), time.monotonic()
    work = plan.workdir / f"{job.index:05d}"
    marker = f"{plan.run_id}-{job.index}"
    uid = plan.box.uid_for(slot)
    state = results.StreamState(plan.tutorial.id, frozenset(s.nodeid for s in plan.specs))
    capture = _Capture(plan.limits.output_kb * 1024)
    grading: dict[str, Any] = {
        "submission": job.ident,
        "source": str(job.source),
        "sandbox": plan.box.kind,
        "limits": _limits_block(plan.limits),
    }
    if plan.box.warning:
        grading["warnings"] = [plan.box.warning]
    try:
        copy = archive.make_copy(job.source, work / "copy", module_file=plan.module_file)
        if copy.skipped:
            grading["skipped_files"] = copy.skipped[:100]
        outcome = _run_child(plan, copy.root, work, marker, uid, state, capture)
    except archive.SubmissionError as error:
        outcome = results.Outcome(results.INVALID, str(error))
    except Exception as error:  # the grader's own failure must not stop the batch
        outcome = results.Outcome(results.NOT_STARTED, f"internal grader error: {error!r}")
    finally:
        if not plan.keep_workdirs:
            archive.remove_tree(work)
    duration = time.monotonic() - started
    grading.update(
        outcome=outcome.kind,
        detail=outcome.detail,
        exit_status=outcome.exit_status,
        output_bytes=capture.total,
        output_truncated=capture.total > len(capture.data),
        duration_s=round(duration, 3),
    )
    report, card = results.build(
        plan.tutorial,
        plan.specs,
        state,
        outcome,
        source=job.source.resolve(),
        started_at=started_at,
        duration_s=duration,
        grading=grading,
    )
    return Graded(job, report, card, outcome, bytes(capture.data), capture.total > capture.limit)


def _limits_block(limits: sandbox.Limits) -> dict[str, float | int]:
    return {
        "wall_s": limits.wall_s,
        "cpu_s": limits.cpu_s,
        "memory_mb": limits.memory_mb,
        "file_size_mb": limits.file_size_mb,
        "open_files": limits.open_files,
        "processes": limits.processes,
        "output_kb": limits.output_kb,
    }


def _run_child(
    plan: Plan,
    submission: Path,
    work: Path,
    marker: str,
    uid: int | None,
    state: results.StreamState,
    capture: _Capture,
) -> results.Outcome:
    token = secrets.token_hex(16)
    stream_read, stream_write = os.pipe()
    token_read, token_write = os.pipe()
    os.write(token_write, token.encode())
    os.close(token_write)
    passed = [stream_write, token_read]
    try:
        command, cwd, scratch = _command(plan, submission, work, uid, marker, passed)
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=passed,
            env=sandbox.child_environment(scratch, marker),
            cwd=cwd,
            start_new_session=True,
        )
    except BaseException as error:
        os.close(stream_read)
        if not isinstance(error, OSError):
            raise
        return results.Outcome(results.NOT_STARTED, f"the grading child could not start: {error}")
    finally:
        for fd in passed:
            os.close(fd)
    try:
        ending = _watch(process, stream_read, plan.limits, state, capture, token)
    finally:
        os.close(stream_read)
        sandbox.end_everything(process, marker, uid)
        if process.stdout is not None:
            process.stdout.close()
    return _outcome(ending, process.returncode, plan.limits, state, capture)


def _command(
    plan: Plan, submission: Path, work: Path, uid: int | None, marker: str, passed: list[int]
) -> tuple[list[str], str, Path]:
    """The child's command line, working folder and scratch folder; adds fds to ``passed``."""
    stream_write, token_read = passed
    args = [
        "--stream-fd",
        str(stream_write),
        "--token-fd",
        str(token_read),
        "--tutorial",
        plan.tutorial.id,
        "--tutorial-dir",
        str(plan.source.directory),
        "--limits",
        plan.limits.to_json(),
        "--run-id",
        marker,
    ]
    for path in plan.tutorial_paths:
        args += ["--tutorial-path", str(path)]
    if uid is not None:
        args += ["--drop-uid", str(uid)]
    if plan.check_timeout is not None:
        args += ["--check-timeout", f"{plan.check_timeout:g}"]
    if plan.keyword:
        args += ["--keyword", plan.keyword]
    if plan.box.bwrap is not None:
        feed = os.memfd_create("tutorial-checks")
        os.write(feed, plan.feed)
        os.lseek(feed, 0, os.SEEK_SET)
        passed.append(feed)
        scratch = sandbox.SCRATCH
        args += ["--feed-fd", str(feed), "--feed-root", str(plan.source.directory.parent)]
        args += ["--scratch", str(scratch), "--submission", str(sandbox.SUBMISSION_SOURCE)]
        prefix = sandbox.bwrap_prefix(
            plan.box.bwrap,
            hidden=plan.hidden,
            submission=submission,
            scratch_mb=plan.limits.scratch_mb,
        )
        cwd = "/"
    else:
        scratch = work / "scratch"
        scratch.mkdir(parents=True)
        args += ["--scratch", str(scratch), "--submission", str(submission)]
        prefix, cwd = [], str(scratch)
    return [*prefix, *sandbox.child_interpreter(), *args], cwd, scratch


def _watch(
    process: subprocess.Popen[bytes],
    stream_read: int,
    limits: sandbox.Limits,
    state: results.StreamState,
    capture: _Capture,
    token: str,
) -> str:
    """Read output and stream until the child is gone; why it stopped (or was stopped)."""
    assert process.stdout is not None
    decoder = stream.StreamDecoder(token)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout.fileno(), selectors.EVENT_READ, "output")
    selector.register(stream_read, selectors.EVENT_READ, "stream")
    deadline = time.monotonic() + limits.wall_s
    exited_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                return results.TIMEOUT
            if process.poll() is not None:
                exited_at = exited_at or now
                if not selector.get_map() or now - exited_at > EXIT_GRACE_S:
                    return "exited"
            if not selector.get_map():
                time.sleep(min(0.05, deadline - now))
                continue
            for key, _ in selector.select(min(0.2, deadline - now)):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fd)
                elif key.data == "output":
                    if capture.add(data):
                        return results.OUTPUT_LIMIT
                else:
                    for event in decoder.feed(data):
                        state.apply(event)
    finally:
        selector.close()
        if decoder.rejected:
            state.notes.append(f"{decoder.rejected} line(s) on the result stream were rejected")
        if decoder.overflow:
            state.notes.append("the result stream overflowed; later lines were dropped")


def _outcome(
    ending: str,
    returncode: int | None,
    limits: sandbox.Limits,
    state: results.StreamState,
    capture: _Capture,
) -> results.Outcome:
    if ending == results.TIMEOUT:
        return results.Outcome(results.TIMEOUT, f"the {limits.wall_s:g} s wall-clock limit ran out")
    if ending == results.OUTPUT_LIMIT:
        return results.Outcome(
            results.OUTPUT_LIMIT, f"the submission wrote more than {limits.output_kb} KiB of output"
        )
    if not state.hello or state.collected is None:
        # Nothing of the submission has run before collection: this is the grader's failure.
        tail = (state.fatal or bytes(capture.data[-800:]).decode(errors="replace")).strip()
        return results.Outcome(
            results.NOT_STARTED,
            f"the grading child did not get to run the checks (exit status {returncode}): "
            f"{tail[-800:]}",
            returncode,
        )
    if state.done and state.exit_code in PYTEST_FINISHED:
        return results.Outcome(results.COMPLETED, "", returncode)
    if state.done:
        return results.Outcome(
            results.CRASHED,
            f"the check run stopped early (pytest exit status {state.exit_code}: an internal "
            "error or an interruption, for example after running out of memory)",
            returncode,
        )
    return results.Outcome(results.CRASHED, _describe_exit(returncode), returncode)


def _describe_exit(returncode: int | None) -> str:
    """Why a child that never said ``done`` ended, as far as its exit status tells."""
    if returncode is None:
        return "the grading process stopped"
    number = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if number:
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        why = {
            "SIGXCPU": " (CPU time limit)",
            "SIGXFSZ": " (file size limit)",
            "SIGKILL": " (killed: memory or a limit?)",
            "SIGSEGV": " (crashed)",
        }.get(name, "")
        return f"the grading process was killed by {name}{why}"
    return (
        f"the grading process exited with status {returncode} before every check reported "
        "(os._exit or exit at import?)"
    )
