"""Grading throughput and the cost of containment (``pytest-tutorial grade``).

1. Throughput: a class of N submissions (half copies of the reference solution, half of
   the starter) graded by one ``grade`` batch with ``--jobs 2``: submissions per minute,
   with the children forked from each job slot's warm process (the default) and then with
   ``--cold-start``.
2. Containment cost per submission, rounds interleaved on a copy of the reference:
   uncontained (``pytest --tutorial=caching --tutorial-solution=COPY`` as a learner runs
   it, warm, with ``--tutorial-fresh-runs``: every run of its own tests made, as grading
   makes them), contained with bubblewrap in each isolation mode (``worker``, the default:
   the submission's code in workers apart from the checks; ``process``: beside them),
   each with the child forked and cold-started, and with resource limits only. A
   contained figure is the second of two submissions graded in one job slot (its slot's
   warm process is running, as for every submission of a class but the first): its own
   time in its report (copy, sandbox, checks, cleanup); the batch's fixed cost (trusted
   collection, sandbox probe) is quoted apart, and so is the bare cost of entering the
   sandbox (the interpreter started with and without it). The worker/process ratio is the
   price of scores no submission can forge.

    python benchmarks/grade.py [--class-size 8] [--rounds 5]
    python benchmarks/grade.py --class-size 300 --throughput-only   # the target's class
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from collections import Counter
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
    *,
    warm: bool = True,
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
            warm=warm,
        )
    )
    elapsed = time.perf_counter() - started
    return elapsed, json.loads((out / "gradebook.json").read_text(encoding="utf-8"))


def throughput(folder: Path, size: int, *, cold: bool = True) -> None:
    """A class graded with --jobs 2, children forked from warm processes, then started cold."""
    kinds = ["reference_solutions", "exercises"]
    submissions = [_copy(kinds[n % 2], folder / f"student{n:03d}") for n in range(size)]
    rates = {}
    for warm in (True, False) if cold else (True,):
        out = folder / ("out-warm" if warm else "out-cold")
        elapsed, book = _grade(submissions, out, 2, sandbox.Mode.AUTO, warm=warm)
        scores = dict(sorted(Counter(row["points"] for row in book["submissions"]).items()))
        rates[warm] = size / elapsed * 60
        print(
            f"throughput{'' if warm else ' (--cold-start)'}: {size} submissions "
            f"({size - size // 2} reference, {size // 2} starter) with --jobs 2, "
            f"{book['sandbox']} and workers in {elapsed:.1f} s -> {rates[warm]:.1f} "
            f"submissions per minute (how many got each score: {scores})"
        )
    if cold:
        print(f"  warm start against cold start: {rates[True] / rates[False]:.2f}x the throughput")


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
    second = _copy("reference_solutions", folder / "submission2")
    contained = (
        (sandbox.Mode.BWRAP, "worker", True, "bwrap+worker"),
        (sandbox.Mode.BWRAP, "worker", False, "bwrap+worker cold"),
        (sandbox.Mode.BWRAP, "process", True, "bwrap+process"),
        (sandbox.Mode.BWRAP, "process", False, "bwrap+process cold"),
        (sandbox.Mode.NONE, "worker", False, "rlimits+worker"),
    )
    figures: dict[str, list[float]] = {"uncontained": [], **{name: [] for *_, name in contained}}
    fixed: list[float] = []
    for number in range(rounds):
        figures["uncontained"].append(timed_run(plain, cwd=plain_dir))
        for mode, isolation, warm, name in contained:
            out = folder / f"out-{name.replace(' ', '-')}-{number}"
            # two submissions in one slot: the second one's time is what each one of a
            # class costs once its slot's warm process is running
            elapsed, book = _grade([copy, second], out, 1, mode, isolation, warm=warm)
            rows = book["submissions"]
            if any(row["points"] != row["max_points"] for row in rows):
                raise SystemExit(f"the reference did not get full marks under {name}: {rows}")
            figures[name].append(rows[1]["duration_s"])
            if name == "bwrap+worker":
                fixed.append(elapsed - sum(row["duration_s"] for row in rows))
    base = median(figures["uncontained"])
    print(f"containment cost per submission, median of {rounds} interleaved rounds:")
    for name, values in figures.items():
        print(
            f"  {name:18} {median(values):6.2f} s  (min {min(values):.2f}, max {max(values):.2f})"
            f"  ratio to uncontained {median(values) / base:.2f}"
        )
    ratio = median(figures["bwrap+worker"]) / median(figures["bwrap+process"])
    print(f"  workers against one process, both in bubblewrap: {ratio:.2f}x (target <= 1.3)")
    cold = median(figures["bwrap+worker cold"]) / median(figures["bwrap+worker"])
    print(f"  a cold-started child against a forked one, both in bubblewrap: {cold:.2f}x")
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
    parser.add_argument(
        "--throughput-only",
        action="store_true",
        help="grade the class once, warm, and stop: for a whole class of 300, the target's",
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="grade-benchmark-") as name:
        folder = Path(name)
        (folder / "class").mkdir()
        (folder / "cost").mkdir()
        throughput(folder / "class", args.class_size, cold=not args.throughput_only)
        if args.throughput_only:
            return
        containment_cost(folder / "cost", args.rounds)
        sandbox_startup(20)


if __name__ == "__main__":
    main()
