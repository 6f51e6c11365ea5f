"""The wall time of a large class graded over N CI shards, projected from measured figures.

The batch's fixed cost (trusted collection, sandbox probe, gradebook) is the wall time of
a batch of one submission less that submission's own time in its report (median of
``--rounds``). The per-submission cost is a class of ``--class-size`` caching submissions
(half copies of the reference, half of the starter) graded by one ``pytest-tutorial
grade`` batch (``--jobs 2``, the sandbox the machine allows): its wall time less the fixed
cost, divided by the class size. The class is then graded again as two shards (``--shard
1/2`` and ``2/2``) merged with ``pytest-tutorial merge``, to show the sharded path still
gives every row. Last, the projection of a class of ``--students`` over N shards: each
shard runner pays its setup (``--setup-s``, installing Python and the package: not
measured here), the fixed cost, and its share of submissions at the measured rate.

    python benchmarks/shards.py [--class-size 8] [--rounds 3] [--students 3000] [--setup-s 60]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import machine, median
from grade import _copy

SHARD_COUNTS = (1, 4, 10, 20, 50, 100)


def _grade(submissions: list[Path], out: Path, *extra: str) -> float:
    """Wall seconds of one ``pytest-tutorial grade`` batch (a child process, as CI runs it).

    Every submission must end ``completed``: a crash would make the figures meaningless.
    """
    command = [sys.executable, "-m", "pytest_tutorial", "grade", "--tutorial", "caching"]
    command += ["--out", str(out), "--jobs", "2", *extra, *map(str, submissions)]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if completed.returncode not in (0, 1):
        raise SystemExit(f"grade exited {completed.returncode}: {completed.stderr[-2000:]}")
    rows = _rows(out)
    if any(row["grading"] != "completed" for row in rows):
        raise SystemExit(f"a submission did not complete: {[row['grading'] for row in rows]}")
    return elapsed


def _rows(out: Path) -> list[dict[str, Any]]:
    book = json.loads((out / "gradebook.json").read_text(encoding="utf-8"))
    rows: list[dict[str, Any]] = book["submissions"]
    return rows


def _class(folder: Path, size: int) -> list[Path]:
    kinds = ["reference_solutions", "exercises"]
    folder.mkdir()
    return [_copy(kinds[n % 2], folder / f"student{n:03d}") for n in range(size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--class-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--setup-s", type=float, default=60.0)
    args = parser.parse_args()
    size = args.class_size
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="shards-benchmark-") as name:
        folder = Path(name)
        single = _class(folder / "single", 1)
        fixed_costs = []
        for number in range(args.rounds):
            out = folder / f"out-single-{number}"
            wall = _grade(single, out)
            fixed_costs.append(wall - _rows(out)[0]["duration_s"])
        fixed = median(fixed_costs)
        submissions = _class(folder / "class", size)
        wall = _grade(submissions, folder / "out-class")
        per_submission = max(wall - fixed, 0.0) / size
        print(
            f"class of {size} with --jobs 2: {wall:.1f} s; fixed cost of a batch {fixed:.1f} s "
            f"(median of {args.rounds}); per submission {per_submission:.2f} s "
            f"({60 / per_submission:.1f} per minute)"
        )
        shards = []
        for index in (1, 2):
            out = folder / f"shard-{index}"
            _grade(submissions, out, "--shard", f"{index}/2")
            shards.append(str(out))
        merged = folder / "merged"
        subprocess.run(
            [sys.executable, "-m", "pytest_tutorial", "merge", "--out", str(merged), *shards],
            check=True,
            capture_output=True,
        )
        rows = json.loads((merged / "gradebook.json").read_text(encoding="utf-8"))["submissions"]
        print(f"two shards merged: {len(rows)} of {size} submissions in the gradebook")
        if len(rows) != size:
            raise SystemExit("the merged gradebook lost submissions")
    print(f"projection for {args.students} submissions (setup {args.setup_s:.0f} s per runner):")
    for count in SHARD_COUNTS:
        share = math.ceil(args.students / count)
        wall = args.setup_s + fixed + share * per_submission
        print(f"  {count:4d} shards: {share:5d} each, {wall / 60:7.1f} min")


if __name__ == "__main__":
    main()
