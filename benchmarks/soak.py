"""Soak: the reference solution graded many times on a crowded machine must always get full marks.

Builds the conditions under which honest submissions used to be SIGKILLed: several
``pytest-tutorial grade`` batches running at once under bubblewrap (as root, so each drops
its children to job-slot uids), a stream of short "noise" batches beside them (like
parallel runs of this project's tests: each ends with a cleanup sweep), and busy loops
keeping every core busy. The reference is graded ``--runs`` times, split across
``--batches`` concurrent batches of ``--jobs`` job slots each; the script prints how many
got full marks, the outcomes, the figures of every run (duration, slowest check, peak RSS,
CPU), and the detail of any run that did not get full marks.

    python benchmarks/soak.py [--runs 30] [--batches 1] [--jobs 2] [--burners 2]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO, machine, median

IGNORED = shutil.ignore_patterns("__pycache__", ".benchmarks", ".hypothesis", ".pytest_cache")
BURN = "while True:\n    pass\n"


def _grade_command(out: Path, submissions: list[Path], *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest_tutorial",
        "grade",
        "--tutorial",
        "caching",
        "--sandbox",
        "bwrap",
        "--quiet",
        "--out",
        str(out),
        *extra,
        *map(str, submissions),
    ]


def _start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as stream:
        return subprocess.Popen(
            command, cwd=REPO, stdout=stream, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def soak(folder: Path, runs: int, batches: int, jobs: int, burners: int) -> None:
    """Grade the reference ``runs`` times in ``batches`` concurrent batches, under load."""
    copies = []
    for number in range(runs):
        copies.append(folder / f"reference-{number:02d}")
        shutil.copytree(REPO / "reference_solutions" / "caching", copies[-1], ignore=IGNORED)
    starter = folder / "starter"
    shutil.copytree(REPO / "exercises" / "caching", starter, ignore=IGNORED)
    burn = [sys.executable, "-c", BURN]
    busy = [_start(burn, folder / f"burner-{n}.log") for n in range(burners)]
    started = time.monotonic()
    loads: list[float] = []
    noise_batches = 0
    try:
        soaking = [
            _start(
                _grade_command(folder / f"out-{n}", copies[n::batches], "--jobs", str(jobs)),
                folder / f"batch-{n}.log",
            )
            for n in range(batches)
        ]
        noise: subprocess.Popen[bytes] | None = None
        while any(process.poll() is None for process in soaking):
            if noise is None or noise.poll() is not None:
                noise_batches += noise is not None
                out = folder / f"noise-{noise_batches}"
                command = _grade_command(out, [starter], "-k", "round_trips_through_redis")
                noise = _start(command, folder / "noise.log")
            loads.append(os.getloadavg()[0])
            time.sleep(1.0)
        if noise is not None:
            noise.wait()
            noise_batches += 1
    finally:
        for process in busy:
            process.kill()
            process.wait()
    elapsed = time.monotonic() - started
    print(
        f"soak: the reference graded {runs} times in {batches} bubblewrap batch(es) of {jobs} "
        f"job slots, beside {noise_batches} noise batches and {burners} busy loops, in "
        f"{elapsed:.0f} s; load average median {median(loads):.1f}, max {max(loads):.1f}"
    )
    _print(folder, batches, soaking)


def _print(folder: Path, batches: int, soaking: list[subprocess.Popen[bytes]]) -> None:
    reports: list[dict[str, Any]] = []
    for number in range(batches):
        out = folder / f"out-{number}"
        book = json.loads((out / "gradebook.json").read_text(encoding="utf-8"))
        for row in book["submissions"]:
            reports.append(json.loads((out / row["report"]).read_text(encoding="utf-8")))
    full = [r for r in reports if r["score"]["points"] == r["score"]["max_points"]]
    outcomes = collections.Counter(r["grading"]["outcome"] for r in reports)
    durations = [float(r["grading"]["duration_s"]) for r in reports]
    usage = [r["grading"].get("usage", {}) for r in reports]
    rss = [float(u.get("peak_rss_mb", 0)) for u in usage]
    cpu = [float(u.get("cpu_s", 0)) for u in usage]
    print(f"  full marks: {len(full)}/{len(reports)}   outcomes: {dict(outcomes)}")
    print(f"  batch exit statuses: {[process.returncode for process in soaking]}")
    print(f"  duration per run: median {median(durations):.1f} s, max {max(durations):.1f} s")
    slowest = [max(c["duration_s"] for i in r["checklist"] for c in i["checks"]) for r in reports]
    print(
        f"  slowest check per run (the caching tutorial's time limit per check is 30 s): "
        f"median {median(slowest):.1f} s, max {max(slowest):.1f} s"
    )
    if any(rss):
        print(f"  peak RSS per run: median {median(rss):.0f} MiB, max {max(rss):.0f} MiB")
        print(f"  CPU per run: median {median(cpu):.1f} s, max {max(cpu):.1f} s")
    for report in reports:
        if report not in full:
            grading = report["grading"]
            print(
                f"  not full: {grading['submission']} {report['score']['points']}/"
                f"{report['score']['max_points']} {grading['outcome']}: {grading['detail']}"
            )
            for item in report["checklist"]:
                for check in item["checks"]:
                    if check["status"] != "passed":
                        message = (check["message"] or "").strip().splitlines()[:1]
                        print(f"    {check['status']}: {check['id']}: {''.join(message)[:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--batches", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2, help="--jobs of each soak batch")
    parser.add_argument("--burners", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("bwrap") is None:
        raise SystemExit("the soak needs bubblewrap (apt-get install bubblewrap)")
    print(f"machine: {machine()}, running as {'root' if os.geteuid() == 0 else 'a user'}")
    with tempfile.TemporaryDirectory(prefix="grade-soak-") as name:
        soak(Path(name), args.runs, args.batches, args.jobs, args.burners)


if __name__ == "__main__":
    main()
