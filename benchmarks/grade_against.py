"""Grading throughput of this checkout against another install, batches interleaved.

On a shared machine the absolute throughput of ``benchmarks/grade.py`` moves with the
load and with the machine's speed from day to day; a change is judged by batches of the
two versions run in turn. The other version is a ``pytest-tutorial`` command of its own
(a venv with an earlier commit installed: ``python -m venv /tmp/before && /tmp/before/bin/pip
install -e WORKTREE``, then ``python -m compileall WORKTREE/pytest_tutorial``, as this
checkout's is compiled: :func:`_common.compile_bytecode`). Each round grades the same
class (half copies of the reference, half of the starter) with ``--jobs 2``, once with
each, in alternating order; prints every batch's wall time, scores and rate, and the
medians and their ratio.

    python benchmarks/grade_against.py /tmp/before/bin/pytest-tutorial \
        [--tutorial caching] [--class-size 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, machine, median

IGNORED = shutil.ignore_patterns("__pycache__", ".benchmarks", ".hypothesis", ".pytest_cache")


def _batch(command: list[str], tutorial: str, submissions: list[Path], out: Path) -> float:
    """Wall seconds of one ``grade`` batch; ends the script if the batch failed."""
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    completed = subprocess.run(
        [*command, "grade", "--tutorial", tutorial, "--out", str(out), "--jobs", "2", "-q"]
        + [str(path) for path in submissions],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode not in (0, 1):
        raise SystemExit(f"grade exited {completed.returncode}:\n{completed.stderr[-3000:]}")
    return elapsed


def _scores(out: Path) -> list[str]:
    rows = (out / "gradebook.csv").read_text(encoding="utf-8").splitlines()[1:]
    return sorted(row.split(",")[3] for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("other", help="the other version's pytest-tutorial command")
    parser.add_argument("--tutorial", default="caching")
    parser.add_argument("--class-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    this = [sys.executable, "-m", "pytest_tutorial"]
    versions = {"this checkout": this, "other": [options.other]}
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="grade-against-") as name:
        folder = Path(name)
        submissions = []
        for index in range(options.class_size):
            kind = "reference_solutions" if index % 2 == 0 else "exercises"
            target = folder / "class" / f"{kind}-{index}"
            shutil.copytree(REPO / kind / options.tutorial, target, ignore=IGNORED)
            submissions.append(target)
        times: dict[str, list[float]] = {label: [] for label in versions}
        for round_ in range(options.rounds):
            order = list(versions) if round_ % 2 == 0 else list(reversed(versions))
            for label in order:
                out = folder / "out"
                elapsed = _batch(versions[label], options.tutorial, submissions, out)
                times[label].append(elapsed)
                rate = len(submissions) / elapsed * 60
                print(f"  {label:14} {elapsed:6.1f} s  {rate:5.1f} a minute  {_scores(out)}")
    for label, values in times.items():
        middle = median(values)
        rate = len(submissions) / middle * 60
        print(f"{label}: median {middle:.1f} s, {rate:.1f} submissions a minute")
    ratio = median(times["this checkout"]) / median(times["other"])
    print(f"wall time, this checkout against the other: {ratio:.2f}x")


if __name__ == "__main__":
    main()
