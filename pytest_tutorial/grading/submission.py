"""Grade one submission: fresh copy, contained child, watched until it ends, report.

The child is started cold or forked by the job slot's warm process (:mod:`.warm_slots`).
The parent reads its output (kept up to the output cap; past it the child is stopped) and
its result stream until it exits or the wall-clock limit runs out (:mod:`.watching`);
then it kills whatever of the submission is left (:mod:`.cleanup`) and builds the report
from what was streamed. Nothing the child writes is trusted to be a report.
"""

from __future__ import annotations

import functools
import os
import secrets
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from pytest_tutorial.bundled import packaged_references
from pytest_tutorial.discovery import BUNDLED_ROOT, TutorialSource
from pytest_tutorial.hypothesis_warmup import write_unicode_tables
from pytest_tutorial.model import Tutorial
from pytest_tutorial.options import HYPOTHESIS_HOME, STATE_DIR
from pytest_tutorial.report_model import GradingBlock, Report
from pytest_tutorial.scoring import CheckSpec, Scorecard

from . import (
    archive,
    cleanup,
    results,
    sandbox,
    unpacker,
    untrusted,
    usage,
    warm_slots,
    watching,
)
from . import ending as endings
from .protocol import FED_REFERENCE, ChildArgs
from .results import OutcomeKind


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
    isolation: str = "worker"
    """``worker``: the submission's code runs in processes of its own; ``process``: in the
    grading child beside the checks (see :class:`~.protocol.ChildArgs`)."""
    reference: Path | None = None
    """The tutorial's reference solution, given to the child in worker mode (in the feed,
    when sandboxed) for the relative performance target."""
    hypothesis_tables: Mapping[str, bytes] = field(default_factory=dict)
    """Hypothesis' Unicode tables for the child's storage folder (in the feed, when
    sandboxed; :mod:`pytest_tutorial.hypothesis_warmup`)."""
    slots: warm_slots.SlotServers | None = None
    """The job slots' warm servers that fork the children (:mod:`.warm_slots`), or None:
    every child starts as a new process."""
    unpacking: unpacker.WarmUnpacker | None = None
    """The warm process that forks each submission's unpacking, or None: each unpacking
    starts a new interpreter (:mod:`.unpacker`)."""

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
    report: Report
    card: Scorecard
    outcome: results.Outcome
    output: bytes
    output_truncated: bool
    warnings: list[str] = field(default_factory=list)
    """About the submission as handed in (empty, no solution module), for the log."""


def grade(plan: Plan, job: Job, slot: int) -> Graded:
    """Grade ``job`` in job slot ``slot``; never raises for anything the submission does.

    The wall-clock limit starts here: unpacking the submission is charged to it.
    """
    started_at, started = datetime.now(UTC), time.monotonic()
    deadline = started + plan.limits.wall_s
    work = plan.workdir / f"{job.index:05d}"
    marker = f"{plan.run_id}-{job.index}"
    state = results.StreamState(frozenset(s.nodeid for s in plan.specs))
    capture = watching.Capture(plan.limits.output_kb * 1024)
    grading = _grading_block(plan, job, OutcomeKind.NOT_STARTED)  # until it is known
    warnings = [plan.box.warning] if plan.box.warning else []
    try:
        make_copy = plan.unpacking.make_copy if plan.unpacking else unpacker.make_copy
        copy = make_copy(
            job.source,
            work / "copy",
            module_file=plan.module_file,
            limits=plan.limits,
            deadline=deadline,
        )
        if copy.skipped:
            grading["skipped_files"] = copy.skipped[:100]
        warnings += copy.warnings
        _check_fits(plan, copy)
        ending = _run_child(plan, copy.root, work, slot, marker, state, capture, deadline)
        outcome = endings.outcome(ending, plan.limits, state)
        grading["usage"] = ending.usage.to_json()
        grading["signal"] = endings.signal_of(ending)
    except archive.SubmissionError as error:
        outcome = results.Outcome(OutcomeKind.INVALID, str(error))
    except Exception as error:  # the grader's own failure must not stop the batch
        outcome = results.Outcome(OutcomeKind.NOT_STARTED, f"internal grader error: {error!r}")
    finally:
        if not plan.keep_workdirs:
            archive.remove_tree(work)
    if warnings:
        grading["warnings"] = warnings
    duration = time.monotonic() - started
    grading.update(
        {
            "outcome": outcome.kind,
            "detail": outcome.detail,
            "exit_status": outcome.exit_status,
            "output_bytes": capture.total,
            "output_truncated": capture.total > len(capture.data),
            "duration_s": round(duration, 3),
        }
    )
    report, card, outcome = _report(plan, job, state, outcome, grading, started_at, duration)
    return Graded(
        job,
        report,
        card,
        outcome,
        bytes(capture.data),
        capture.total > capture.limit,
        [w for w in warnings if w != plan.box.warning],
    )


def _grading_block(plan: Plan, job: Job, outcome: OutcomeKind) -> GradingBlock:
    """The report's ``grading`` block as far as it is known before the run."""
    return {
        "submission": job.ident,
        "source": str(job.source),
        "sandbox": plan.box.kind,
        "isolation": plan.isolation,
        "limits": _limits_block(plan.limits),
        "outcome": outcome,
        "duration_s": 0.0,
    }


def _check_fits(plan: Plan, copy: archive.Copy) -> None:
    """Inside the sandbox the child copies the submission into its scratch tmpfs."""
    room = plan.limits.scratch_mb * 1024 * 1024
    if plan.box.isolated and copy.size > room // 2:
        raise archive.SubmissionError(
            f"the submission ({copy.size / 1048576:.1f} MiB) takes more than half of the "
            f"{plan.limits.scratch_mb} MB scratch folder (--scratch)"
        )


def _report(
    plan: Plan,
    job: Job,
    state: results.StreamState,
    outcome: results.Outcome,
    grading: GradingBlock,
    started_at: datetime,
    duration: float,
) -> tuple[Report, Scorecard, results.Outcome]:
    """The report; when what the child sent cannot be made into one, a report without it."""
    build = functools.partial(
        results.build,
        plan.tutorial,
        plan.specs,
        source=Path(os.path.abspath(job.source)),
        started_at=started_at,
        duration_s=duration,
        grading=grading,
    )
    try:
        report, card = build(state, outcome)
    except Exception as error:  # the child's data: the submission's fault, not the grader's
        outcome = results.Outcome(
            OutcomeKind.CRASHED,
            "the report could not be built from what the submission's process sent "
            f"({type(error).__name__}: {error}); no check has a verdict",
            outcome.exit_status,
        )
        grading.update({"outcome": outcome.kind, "detail": outcome.detail})
        empty = results.StreamState(state.known)
        report, card = build(empty, outcome)
    return untrusted.scrub(report), card, outcome


def fallback(plan: Plan, job: Job, kind: OutcomeKind, detail: str) -> Graded:
    """A minimal graded submission: outcome ``kind``, why, and no check verdict."""
    outcome = results.Outcome(kind, untrusted.text(detail, 2000))
    grading = _grading_block(plan, job, kind)
    grading.update({"detail": outcome.detail, "exit_status": None})
    state = results.StreamState(frozenset(s.nodeid for s in plan.specs))
    report, card, outcome = _report(plan, job, state, outcome, grading, datetime.now(UTC), 0.0)
    return Graded(job, report, card, outcome, b"", False)


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
    slot: int,
    marker: str,
    state: results.StreamState,
    capture: watching.Capture,
    deadline: float,
) -> endings.Ending:
    uid = plan.box.uid_for(slot)
    token, stream_read, passed = _stream_pipes()
    oom_before = usage.oom_kills()
    slot_server = plan.slots.get(slot) if plan.slots is not None else None
    started: tuple[usage.Watched, int, subprocess.Popen[bytes] | None] | None = None
    try:
        if slot_server is not None:
            submission = _into_inbox(submission, slot_server.inbox)
            started = _fork_warm(plan, slot_server, uid, marker, passed, deadline)
            if started is None:  # a child it forked may have read the token: new pipes
                for fd in (stream_read, *passed):
                    os.close(fd)
                token, stream_read, passed = _stream_pipes()
        if started is None:
            started = _start_cold(plan, submission, work, uid, marker, passed)
    except BaseException:
        os.close(stream_read)
        raise
    finally:
        for fd in passed:
            os.close(fd)
    child, output, process = started
    try:
        why = watching.watch(child, output, stream_read, deadline, state, capture, token)
    finally:
        os.close(stream_read)
        cleanup.end_everything(child, marker, uid)
        if process is not None and process.stdout is not None:
            process.stdout.close()
        else:
            os.close(output)
        if slot_server is not None:
            archive.remove_tree(slot_server.inbox / warm_slots.COPY)
    oom_after = usage.oom_kills()
    return endings.Ending(
        why,
        child.returncode,
        child.usage,
        oom_after - oom_before if oom_after is not None and oom_before is not None else None,
        bytes(capture.data[-800:]).decode(errors="replace"),
        plan.box.isolated,
    )


def _stream_pipes() -> tuple[str, int, list[int]]:
    """A new token, the result stream's read end, and the child's ends (stream, token)."""
    token = secrets.token_hex(16)
    stream_read, stream_write = os.pipe()
    token_read, token_write = os.pipe()
    os.write(token_write, token.encode())
    os.close(token_write)
    return token, stream_read, [stream_write, token_read]


def _start_cold(
    plan: Plan, submission: Path, work: Path, uid: int | None, marker: str, passed: list[int]
) -> tuple[usage.Watched, int, subprocess.Popen[bytes]]:
    """A new child process (in a sandbox of its own, when there is one)."""
    args, prefix, cwd, scratch = _command(plan, submission, work, uid, marker, passed)
    process = subprocess.Popen(
        [*prefix, *sandbox.child_interpreter(), *args.to_argv()],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        pass_fds=passed,
        env=sandbox.child_environment(scratch, marker),
        cwd=cwd,
        start_new_session=True,
    )
    assert process.stdout is not None
    return usage.Child(process), process.stdout.fileno(), process


def _fork_warm(
    plan: Plan,
    slot_server: warm_slots.SlotServer,
    uid: int | None,
    marker: str,
    passed: list[int],
    deadline: float,
) -> tuple[usage.Watched, int, None] | None:
    """A child forked by the slot's warm server, or None (then it starts cold)."""
    args, _, _, _ = _command(plan, plan.workdir, plan.workdir, uid, marker, passed)
    args = replace(
        args,
        submission=sandbox.SUBMISSION_SOURCE / warm_slots.COPY,
        slot_socket=slot_server.socket,
    )
    output_read, output_write = os.pipe()
    fds = [output_write, *passed]
    try:
        child = slot_server.fork(
            args.to_argv(),
            sandbox.child_environment(sandbox.SCRATCH, marker),
            fds,
            timeout_s=max(1.0, deadline - time.monotonic()) + watching.EXIT_GRACE_S,
        )
    finally:
        os.close(output_write)
    if child is None:
        os.close(output_read)
        os.close(passed.pop())  # the feed: a cold start makes it again
        return None
    return child, output_read, None


def _into_inbox(submission: Path, inbox: Path) -> Path:
    """Move the submission's copy into the slot's inbox (what its sandbox can read)."""
    target = inbox / warm_slots.COPY
    archive.remove_tree(target)
    os.rename(submission, target)
    return target


def _command(
    plan: Plan, submission: Path, work: Path, uid: int | None, marker: str, passed: list[int]
) -> tuple[ChildArgs, list[str], str, Path]:
    """The child's arguments, sandbox prefix, working folder and scratch folder.

    Adds the feed's descriptor to ``passed`` (in a sandbox).
    """
    stream_write, token_read = passed
    args = ChildArgs(
        stream_fd=stream_write,
        token_fd=token_read,
        tutorial=plan.tutorial.id,
        tutorial_dir=plan.source.directory,
        scratch=sandbox.SCRATCH,
        tutorial_paths=tuple(plan.tutorial_paths),
        limits=plan.limits,
        drop_uid=uid,
        check_timeout=plan.check_timeout,
        keyword=plan.keyword or None,
        run_id=marker,
        isolation=plan.isolation,
        reference=plan.reference,
    )
    if plan.box.bwrap is not None:
        feed = os.memfd_create("tutorial-checks")
        os.write(feed, plan.feed)
        os.lseek(feed, 0, os.SEEK_SET)
        passed.append(feed)
        scratch = sandbox.SCRATCH
        feed_root = plan.source.directory.parent
        args = replace(
            args,
            feed_fd=feed,
            feed_root=feed_root,
            submission=sandbox.SUBMISSION_SOURCE,
            reference=feed_root / FED_REFERENCE / plan.source.id if plan.reference else None,
        )
        prefix = sandbox.bwrap_prefix(
            plan.box.bwrap,
            hidden=plan.hidden,
            submission=submission,
            scratch_mb=plan.limits.scratch_mb,
            capabilities=sandbox.child_capabilities(in_workers=args.in_workers),
        )
        cwd = "/"
    else:
        scratch = work / "scratch"
        scratch.mkdir(parents=True)
        write_unicode_tables(plan.hypothesis_tables, scratch / STATE_DIR / HYPOTHESIS_HOME)
        args = replace(args, scratch=scratch, submission=submission)
        prefix, cwd = [], str(scratch)
    return args, prefix, cwd, scratch
