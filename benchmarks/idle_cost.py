"""Idle cost: a small unrelated suite with the plugin installed vs. with ``-p no:tutorial``.

The plugin is loaded by every pytest run in a learner's environment, so without
``--tutorial`` it must cost next to nothing. Runs alternate (A B B A ...) so machine drift
hits both sides. Both the wall time and the CPU time (user + system) of each run are
measured; the verdict is the ratio of the CPU medians, the steadier of the two on a shared
machine: the plugin's own cost is a few milliseconds of a run of some 500 to 800, and the
wall times of the same command spread by more than that from one run to the next.
With ``--instructions`` (valgrind installed) it also counts the instructions each side
executes, once, under valgrind's callgrind with a fixed hash seed: runs of the same code
differ by a few hundred instructions in billions, whatever else the machine does, so a
difference of a fraction of a percent shows. Target: <= 1.03.

    python benchmarks/idle_cost.py [--runs 20] [--instructions]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import machine, medians, timed_run, timed_run_with_cpu

TARGET = 1.03


def make_suite(folder: Path, files: int = 20, tests: int = 10) -> None:
    """``files`` modules of ``tests`` trivial tests each, and an empty ini file."""
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for index in range(files):
        body = "".join(
            f"def test_{index}_{n}():\n    assert {n} + 1 > {n}\n\n" for n in range(tests)
        )
        (folder / f"test_module_{index}.py").write_text(body, encoding="utf-8")


def instructions(arguments: list[str], *, cwd: Path) -> int:
    """Instructions ``python -m pytest ARGUMENTS`` executes, with every fork of it.

    Counted by valgrind's callgrind (its "Collected" line per process); the hash seed is
    fixed, since set and dict iteration orders change what runs.
    """
    with tempfile.TemporaryDirectory(prefix="idle-cost-callgrind-") as output:
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={output}/callgrind.%p",
            sys.executable,
            "-m",
            "pytest",
            *arguments,
        ]
        environment = {**os.environ, "PYTHONHASHSEED": "0"}
        completed = subprocess.run(
            command, cwd=cwd, env=environment, capture_output=True, text=True, check=False
        )
    counts = [int(count) for count in re.findall(r"Collected : (\d+)", completed.stderr)]
    if completed.returncode != 0 or not counts:
        sys.exit(f"valgrind run failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    return sum(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="runs per side (default 20)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each side's instructions under valgrind (about a minute a side)",
    )
    options = parser.parse_args()
    runs = options.runs
    if options.instructions and shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind: apt-get install valgrind")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="idle-cost-") as name:
        folder = Path(name)
        make_suite(folder)
        common = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
        with_plugin: list[tuple[float, float]] = []
        without: list[tuple[float, float]] = []
        timed_run(common, cwd=folder)  # warm the file system caches
        for index in range(runs):
            order = [(with_plugin, []), (without, ["-p", "no:tutorial"])]
            for bucket, extra in order if index % 2 == 0 else reversed(order):
                bucket.append(timed_run_with_cpu([*common, *extra], cwd=folder))
        counted = (
            (
                instructions(common, cwd=folder),
                instructions([*common, "-p", "no:tutorial"], cwd=folder),
            )
            if options.instructions
            else None
        )
    print(f"suite: 200 trivial tests, {runs} runs per side, interleaved")
    mine, theirs = medians(with_plugin), medians(without)
    for figure, a, b in zip(("wall time", "CPU time"), mine, theirs, strict=True):
        print(
            f"{figure}: median {a * 1000:.1f} ms with the plugin installed, "
            f"{b * 1000:.1f} ms with -p no:tutorial: ratio {a / b:.3f}"
        )
    ratio = mine[1] / theirs[1]
    verdict = "MET" if ratio <= TARGET else "MISSED"
    print(f"CPU ratio: {ratio:.3f} (target <= {TARGET}) -> {verdict}")
    if counted is not None:
        counted_mine, counted_theirs = counted
        print(
            f"instructions: {counted_mine:,} with the plugin installed, {counted_theirs:,} "
            f"with -p no:tutorial: ratio {counted_mine / counted_theirs:.4f} "
            f"({(counted_mine - counted_theirs) / 1e6:+.1f} million)"
        )


if __name__ == "__main__":
    main()
