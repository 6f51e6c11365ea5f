"""Grading throughput and the cost of containment (``pytest-tutorial grade``).

1. Throughput: a class of N submissions (half copies of the reference solution, half of
   the starter) graded by one ``grade`` batch with ``--jobs 2``: submissions per minute.
2. Containment cost per submission, rounds interleaved on a copy of the reference:
   uncontained (``pytest --tutorial=caching --tutorial-solution=COPY`` as a learner runs
   it, warm, with ``--tutorial-fresh-runs``: every run of its own tests made, as grading
   makes them), contained with bubblewrap in each isolation mode (``worker``, the default: the
   submission's code in workers apart from the checks; ``process``: beside them), and
   with resource limits only. A contained figure is the submission's own time in its
   report (copy, sandbox, checks, cleanup); the batch's fixed cost (trusted collection,
   sandbox probe) is quoted apart, and so is the bare cost of entering the sandbox (the
   interpreter started with and without it). The worker/process ratio is the price of
   scores no submission can forge (target: within 1.3x).

    python benchmarks/grade.py [--class-size 8] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO, machine, median, timed_run

from pytest_tutorial.grading import batch, sandbox

IGNORED = shutil.ignore_patterns("__pycache__", ".benchmarks", ".hypothesis", ".pytest_cache")


def _copy(kind: str, target: Path) -> Path:
    shutil.copytree(REPO / kind / "caching", target, ignore=IGNORED)
    return target


def _grade(
    submissions: list[Path],
    out: Path,
    jobs: int,
    mode: sandbox.Mode,
    isolation: str = "worker",
) -> tuple[float, Any]:
    """Wall seconds of one batch and its gradebook."""
    started = time.perf_counter()
    batch.run(
        batch.Options(
            tutorial="caching",
            out=out,
            submissions=tuple(submissions),
            jobs=jobs,
            mode=mode,
            isolation=isolation,
        )
    )
    elapsed = time.perf_counter() - started
    return elapsed, json.loads((out / "gradebook.json").read_text(encoding="utf-8"))


def throughput(folder: Path, size: int) -> None:
    """A class graded with --jobs 2."""
    kinds = ["reference_solutions", "exercises"]
    submissions = [_copy(kinds[n % 2], folder / f"student{n:03d}") for n in range(size)]
    elapsed, book = _grade(submissions, folder / "out", 2, sandbox.Mode.AUTO)
    scores = sorted(row["points"] for row in book["submissions"])
    print(
        f"throughput: {size} submissions ({size - size // 2} reference, {size // 2} starter) "
        f"with --jobs 2, {book['sandbox']} and workers in {elapsed:.1f} s -> "
        f"{size / elapsed * 60:.1f} submissions per minute (scores {scores})"
    )


def containment_cost(folder: Path, rounds: int) -> None:
    """Per-submission time, uncontained vs. contained, interleaved rounds."""
    plain_dir = folder / "plain"
    plain_dir.mkdir()
    copy = _copy("reference_solutions", folder / "submission")
    plain = [
        "--tutorial=caching",
        f"--tutorial-solution={copy}",
        f"--tutorial-report={folder / 'plain.json'}",
        "--tutorial-fresh-runs",
        "-q",
    ]
    timed_run(plain, cwd=plain_dir)  # warm caches
    contained = (
        (sandbox.Mode.BWRAP, "worker", "bwrap+worker"),
        (sandbox.Mode.BWRAP, "process", "bwrap+process"),
        (sandbox.Mode.NONE, "worker", "rlimits+worker"),
    )
    figures: dict[str, list[float]] = {"uncontained": [], **{name: [] for *_, name in contained}}
    fixed: list[float] = []
    for number in range(rounds):
        figures["uncontained"].append(timed_run(plain, cwd=plain_dir))
        for mode, isolation, name in contained:
            out = folder / f"out-{name}-{number}"
            elapsed, book = _grade([copy], out, 1, mode, isolation)
            row = book["submissions"][0]
            if row["points"] != row["max_points"]:
                raise SystemExit(f"the reference did not get full marks under {name}: {row}")
            figures[name].append(row["duration_s"])
            if name == "bwrap+worker":
                fixed.append(elapsed - row["duration_s"])
    base = median(figures["uncontained"])
    print(f"containment cost per submission, median of {rounds} interleaved rounds:")
    for name, values in figures.items():
        print(
            f"  {name:14} {median(values):6.2f} s  (min {min(values):.2f}, max {max(values):.2f})"
            f"  ratio to uncontained {median(values) / base:.2f}"
        )
    ratio = median(figures["bwrap+worker"]) / median(figures["bwrap+process"])
    print(f"  workers against one process, both in bubblewrap: {ratio:.2f}x (target <= 1.3)")
    print(f"  fixed cost of a batch (trusted collection, probe, gradebook): {median(fixed):.2f} s")


def sandbox_startup(runs: int) -> None:
    """The bare cost of entering the sandbox: the child's interpreter with and without it."""
    from pytest_tutorial.discovery import BUNDLED_ROOT

    bwrap = shutil.which("bwrap")
    if bwrap is None:
        print("sandbox start-up: bubblewrap is not installed")
        return
    bare = [*sandbox.child_interpreter()[:3], "-c", "import pytest_tutorial.grading.child"]
    wrapped = [
        *sandbox.bwrap_prefix(bwrap, hidden=[BUNDLED_ROOT], submission=None, scratch_mb=64),
        *bare,
    ]
    times: dict[str, list[float]] = {"bare": [], "bubblewrap": []}
    for _ in range(runs):
        for name, command in (("bare", bare), ("bubblewrap", wrapped)):
            started = time.perf_counter()
            subprocess.run(command, check=True, stdin=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - started)
    base, boxed = median(times["bare"]), median(times["bubblewrap"])
    print(
        f"sandbox start-up, median of {runs}: interpreter {base * 1000:.0f} ms, inside "
        f"bubblewrap {boxed * 1000:.0f} ms (+{(boxed - base) * 1000:.0f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--class-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="grade-benchmark-") as name:
        folder = Path(name)
        (folder / "class").mkdir()
        (folder / "cost").mkdir()
        throughput(folder / "class", args.class_size)
        containment_cost(folder / "cost", args.rounds)
        sandbox_startup(20)


if __name__ == "__main__":
    main()
