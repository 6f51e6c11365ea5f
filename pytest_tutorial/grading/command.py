"""``pytest-tutorial grade``: the command line of the batch grader.

Exit status: 0 when every submission was graded (whatever it scored, however its own code
ended), 1 when the grader could not run some of them (outcome ``not_started``, see their
reports), 2 for a usage error (unknown tutorial, bad option, a submission path that does
not exist, such as a shell pattern that matched nothing: then nothing is graded).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_tutorial.grading.sandbox import Limits, Mode

_DEFAULT_LIMITS = Limits()
NAME = "grade"
HELP = (
    "grade untrusted submissions (folders or .zip/.tar.gz archives), each in its own "
    "contained process; writes a report per submission and a gradebook"
)


def _positive_int(text: str) -> int:
    return int(_positive_float(text, whole=True))


def _positive_float(text: str, *, whole: bool = False) -> float:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
    return value


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` with 1 <= I <= N."""
    index, _, count = text.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: write it as I/N, e.g. 2/4") from None
    if not 1 <= shard[0] <= shard[1]:
        raise argparse.ArgumentTypeError(f"--shard {text}: need 1 <= I <= N")
    return shard


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``grade``."""
    parser.add_argument("submissions", nargs="+", type=Path, metavar="SUBMISSION")
    parser.add_argument("--tutorial", required=True, metavar="NAME", help="tutorial to grade")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument(
        "--tutorial-path",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="extra folder holding tutorials (searched before the bundled ones)",
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=_positive_int,
        default=1,
        metavar="N",
        help="submissions graded in parallel (default 1)",
    )
    parser.add_argument(
        "--shard",
        type=parse_shard,
        metavar="I/N",
        help="grade only the I-th of N deterministic shares",
    )
    limits = parser.add_argument_group("limits per submission")
    limits.add_argument(
        "--timeout",
        type=_positive_float,
        default=_DEFAULT_LIMITS.wall_s,
        metavar="S",
        help="wall-clock limit (default %(default)g s)",
    )
    limits.add_argument(
        "--check-timeout",
        type=_positive_float,
        metavar="S",
        help="time limit per check (default: the tutorial's)",
    )
    limits.add_argument(
        "--cpu",
        type=_positive_int,
        metavar="S",
        help="CPU seconds per process (default: the wall-clock limit)",
    )
    limits.add_argument(
        "--memory",
        type=_positive_int,
        default=_DEFAULT_LIMITS.memory_mb,
        metavar="MB",
        help="address space (default %(default)s MB)",
    )
    limits.add_argument(
        "--file-size",
        type=_positive_int,
        default=_DEFAULT_LIMITS.file_size_mb,
        metavar="MB",
        help="largest file written (default %(default)s MB)",
    )
    limits.add_argument(
        "--open-files",
        type=_positive_int,
        default=_DEFAULT_LIMITS.open_files,
        metavar="N",
        help="open files (default %(default)s)",
    )
    limits.add_argument(
        "--processes",
        type=_positive_int,
        default=_DEFAULT_LIMITS.processes,
        metavar="N",
        help="processes of one submission (default %(default)s)",
    )
    limits.add_argument(
        "--output-limit",
        type=_positive_int,
        default=_DEFAULT_LIMITS.output_kb,
        metavar="KB",
        help="output kept; past it the submission is stopped (default %(default)s KiB)",
    )
    limits.add_argument(
        "--scratch",
        type=_positive_int,
        default=_DEFAULT_LIMITS.scratch_mb,
        metavar="MB",
        help="size of the writable scratch folder (default %(default)s MB)",
    )
    parser.add_argument(
        "--sandbox",
        choices=[mode.value for mode in Mode],
        default=Mode.AUTO.value,
        help="auto: bubblewrap where it runs, else limits only with a warning; "
        "bwrap: fail without it; none: limits only",
    )
    parser.add_argument(
        "--isolation",
        choices=("worker", "process"),
        default="worker",
        help="worker (default): the submission's code runs in processes of its own, under "
        "the job slot's uid, that cannot reach the checks, the fakes or the results; "
        "process: beside the checks in the grading child, faster but forgeable (docs/ci.md)",
    )
    parser.add_argument(
        "-k",
        dest="keyword",
        metavar="EXPR",
        help="run only the checks matching EXPR (others count as skipped)",
    )
    parser.add_argument(
        "--cold-start",
        action="store_true",
        help="start every grading child and every unpacking as a new process; by default "
        "the unpacking children are forked from one warm process and, with bubblewrap and "
        "--isolation worker, each job slot forks its grading children (docs/ci.md)",
    )
    parser.add_argument(
        "--keep-workdirs",
        action="store_true",
        help="keep the per-submission work folders (debugging)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    """Grade and print a line per submission (or a bar on a terminal)."""
    import pytest

    from pytest_tutorial.grading import batch, gradebook, sandbox
    from pytest_tutorial.grading.progress import Progress
    from pytest_tutorial.grading.submission import Graded, Job

    limits = sandbox.Limits(
        wall_s=args.timeout,
        cpu_s=args.cpu or max(int(args.timeout), 1),
        memory_mb=args.memory,
        file_size_mb=args.file_size,
        open_files=args.open_files,
        processes=args.processes,
        output_kb=args.output_limit,
        scratch_mb=args.scratch,
    )
    options = batch.Options(
        tutorial=args.tutorial,
        out=args.out,
        submissions=tuple(args.submissions),
        tutorial_paths=tuple(args.tutorial_path),
        jobs=args.jobs,
        shard=args.shard,
        limits=limits,
        check_timeout=args.check_timeout,
        keyword=args.keyword,
        mode=sandbox.Mode(args.sandbox),
        keep_workdirs=args.keep_workdirs,
        isolation=args.isolation,
        warm=not args.cold_start,
    )
    progress: list[Progress] = []

    def ready(box: sandbox.Sandbox, total: int) -> None:
        if box.warning:
            print(f"warning: {box.warning}", file=sys.stderr, flush=True)
        if not args.quiet:
            print(
                f"grading {total} submission(s) with {box.kind}, {args.jobs} at a time",
                file=sys.stderr,
                flush=True,
            )
            progress.append(Progress(total, sys.stderr))

    def started(job: Job) -> None:
        if progress:
            progress[0].begin()

    def finished(graded: Graded) -> None:
        for warning in graded.warnings:
            print(f"warning: {graded.job.ident}: {warning}", file=sys.stderr, flush=True)
        if progress:
            report = graded.report
            line = (
                f"{report['score']['points']}/{report['score']['max_points']} "
                f"{report['verdict']} ({graded.outcome.kind}, "
                f"{report['grading']['duration_s']:.1f} s)"
            )
            progress[0].finish(graded.job.ident, line)

    try:
        result = batch.run(options, on_ready=ready, on_start=started, on_finish=finished)
    except (pytest.UsageError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if progress:
        progress[0].close()
    gradebook.append_step_summary(result.summary)
    out = args.out.resolve()
    print(f"gradebook: {out / gradebook.CSV_NAME}  summary: {out / gradebook.SUMMARY_NAME}")
    failures = result.infrastructure_failures
    for graded in failures:
        print(f"error: {graded.job.ident}: {graded.outcome.detail}", file=sys.stderr)
    return 1 if failures else 0
