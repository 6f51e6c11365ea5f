"""Verdict stability: the relative p95 target judged 20 times on the reference and a 3x-slow copy.

The reference must pass every time and a copy made three times slower on the measured
path must fail every time: zero flips. The slow copy gets a calibrated busy-wait of twice
the reference's own p95 at the top of ``get_or_compute`` (a ``time.sleep`` cannot be that
short: it sleeps at least ~50 us, which would make the copy tens of times slower, not 3x).
Each judgement is a real ``pytest --tutorial=caching -k p95`` run in its own process.

    python benchmarks/verdict_stability.py [--runs 20]
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import REPO, machine, median

from pytest_tutorial.load import run_load

ANCHOR = "        name = self.redis_key(key)\n        found = self._local_get(key)\n"


def reference_p95_ns() -> float:
    """The reference's p95 for cached reads, measured like the check does."""
    sys.path.insert(0, str(REPO / "reference_solutions" / "caching"))
    import fakeredis
    from cache_service import CacheService  # type: ignore[import-not-found]

    service = CacheService(fakeredis.FakeRedis(), namespace="bench", local_max_entries=64)
    keys = itertools.cycle([f"item:{n}" for n in range(20)])
    for _ in range(20):
        service.get_or_compute(next(keys), lambda: {"payload": [1, 2]})
    runs = [
        run_load(
            lambda: service.get_or_compute(next(keys), lambda: {"payload": [1, 2]}),
            requests=100,
            concurrency=10,
            warmup=10,
        )
        for _ in range(15)
    ]
    return median([run.p95_ms for run in runs]) * 1e6


def make_slow_copy(root: Path, extra_ns: int) -> Path:
    """The reference with a busy-wait of ``extra_ns`` on the measured path."""
    folder = root / "slow"
    shutil.copytree(
        REPO / "reference_solutions" / "caching",
        folder,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    module = folder / "cache_service.py"
    text = module.read_text(encoding="utf-8")
    assert text.count(ANCHOR) == 1, "the reference changed: update ANCHOR"
    spin = (
        f"        _until = time.perf_counter_ns() + {extra_ns}\n"
        "        while time.perf_counter_ns() < _until:\n            pass\n"
    )
    module.write_text(text.replace(ANCHOR, spin + ANCHOR), encoding="utf-8")
    return folder


def judge(root: Path, solution: str) -> dict[str, object]:
    """One real tutorial run of the performance check; its report's load-test entry."""
    report = root / "report.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--tutorial=caching",
            f"--tutorial-solution={solution}",
            f"--tutorial-report={report}",
            "-k",
            "p95",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    entry: dict[str, object] = json.loads(report.read_text())["performance"][0]
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    print(f"machine: {machine()}")
    base = reference_p95_ns()
    with tempfile.TemporaryDirectory(prefix="stability-") as name:
        root = Path(name)
        shutil.copytree(
            REPO / "reference_solutions" / "caching",
            root / "reference_solutions" / "caching",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        slow = make_slow_copy(root, int(2 * base))
        print(
            f"reference p95 for cached reads: {base / 1000:.2f} us; slow copy adds a "
            f"{2 * base / 1000:.2f} us busy-wait per request"
        )
        results: dict[str, list[dict[str, object]]] = {"reference": [], "slow": []}
        for _ in range(runs):  # interleaved, so drift hits both
            results["reference"].append(judge(root, "reference"))
            results["slow"].append(judge(root, str(slow)))
    for who, entries in results.items():
        passes = sum(1 for entry in entries if entry["passed"])
        ratios = [float(str(entry["ratio"])) for entry in entries]
        print(
            f"{who:>9}: {passes}/{len(entries)} passed; median ratio {median(ratios):.2f}x "
            f"(min {min(ratios):.2f}, max {max(ratios):.2f}); target <= "
            f"{entries[0]['target']}x; decided by {entries[0]['decided_by']}"
        )
    flips = sum(1 for e in results["reference"] if not e["passed"])
    flips += sum(1 for e in results["slow"] if e["passed"])
    print(f"flips: {flips} (target 0) -> {'MET' if flips == 0 else 'MISSED'}")


if __name__ == "__main__":
    main()
