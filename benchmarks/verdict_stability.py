"""Verdict stability: a tutorial's performance check judged N times on the reference and on a
slow copy, optionally with the machine kept busy.

The reference must pass every time, and a copy slowed to about 2.5 times the tutorial's
floor (``p95_floor_ms``; 3 times the reference's p95 when there is no floor) must fail
every time: zero flips. The slowdown is code inserted before an anchor line of the
reference (:data:`VARIANTS`), calibrated in a few rounds until the copy's p95 lands near
the aim. Each judgement is a real ``pytest --tutorial=NAME -k ...`` run in its own process,
reference and slow copy interleaved so drift hits both.

    python benchmarks/verdict_stability.py caching [--runs 20] [--load 2] [--factor 2.5]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import REPO, machine, median

from pytest_tutorial.discovery import get_tutorial
from pytest_tutorial.document import parse_tutorial


@dataclass(frozen=True)
class SlowVariant:
    """Where and how to slow a tutorial's reference down on the measured path."""

    module: str
    """The reference's file that holds the measured path."""
    anchor: str
    """A line that occurs once in it; the slowdown goes just before it."""
    code: str
    """The slowdown, indented like the anchor; ``{extra_ns}`` is replaced by the amount."""
    select: str
    """The ``-k`` expression that selects the tutorial's performance check."""


BUSY_WAIT = (
    "{indent}_until = time.perf_counter_ns() + {extra_ns}\n"
    "{indent}while time.perf_counter_ns() < _until:\n"
    "{indent}    pass\n"
)
"""A busy-wait: a ``time.sleep`` cannot be shorter than ~50 us, far above a cached read."""

VARIANTS = {
    "caching": SlowVariant(
        module="cache_service.py",
        anchor="        name = self.redis_key(key)\n        found = self._local_get(key)\n",
        code=BUSY_WAIT.replace("{indent}", " " * 8),
        select="p95",
    ),
    "object_store": SlowVariant(
        module="document_store.py",
        anchor="        answer = self._call(\n            self._dynamodb.get_item,\n",
        # milliseconds: a sleep is precise enough, and unlike a busy-wait it does not hold
        # the GIL, which would run the 10 concurrent requests one after another
        code="        time.sleep({extra_ns} / 1e9)\n",
        select="p95",
    ),
    "batch_processor": SlowVariant(
        module="batch_processor.py",
        anchor="        batch_id = next(self._batch_ids)\n",
        code="        await asyncio.sleep({extra_ns} / 1e9)\n",
        select="p95",
    ),
    "rate_limiter": SlowVariant(
        module="rate_limiter.py",
        anchor=(
            "        keys, args = self._script_args(key)\n"
            "        try:\n            reply = self._script("
        ),
        # a sleep: fakeredis already serialises the hits; a busy-wait would hold the GIL too
        code="        time.sleep({extra_ns} / 1e9)\n",
        select="p95",
    ),
}


def make_slow_copy(root: Path, tutorial: str, variant: SlowVariant, extra_ns: int) -> Path:
    """The reference with ``extra_ns`` of slowdown on the measured path."""
    folder = root / "slow"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(
        REPO / "reference_solutions" / tutorial,
        folder,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    module = folder / variant.module
    text = module.read_text(encoding="utf-8")
    assert text.count(variant.anchor) == 1, f"the reference changed: update {tutorial}'s anchor"
    slowdown = variant.code.format(extra_ns=extra_ns)
    module.write_text(text.replace(variant.anchor, slowdown + variant.anchor), encoding="utf-8")
    return folder


def judge(root: Path, tutorial: str, variant: SlowVariant, solution: str) -> dict[str, object]:
    """One real tutorial run of the performance check; its report's load-test entry."""
    report = root / "report.json"
    report.unlink(missing_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--tutorial={tutorial}",
            f"--tutorial-solution={solution}",
            f"--tutorial-report={report}",
            "-k",
            variant.select,
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


def calibrate(root: Path, tutorial: str, variant: SlowVariant, aim_ms: float) -> tuple[Path, int]:
    """A slow copy whose p95 lands near ``aim_ms`` (a few measured rounds)."""
    extra_ns = int(aim_ms * 1e6)
    slow = make_slow_copy(root, tutorial, variant, extra_ns)
    for _ in range(4):
        measured = float(str(judge(root, tutorial, variant, str(slow))["p95_ms"]))
        if abs(measured - aim_ms) <= 0.15 * aim_ms:
            break
        extra_ns = max(int(extra_ns * aim_ms / max(measured, 1e-6)), 1)
        slow = make_slow_copy(root, tutorial, variant, extra_ns)
    return slow, extra_ns


def _spin(stop: float) -> None:
    while time.monotonic() < stop:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tutorial", choices=sorted(VARIANTS))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--load", type=int, default=0, help="busy processes beside the runs")
    parser.add_argument("--factor", type=float, default=2.5, help="slow copy's p95 / the floor")
    args = parser.parse_args()
    name, variant = args.tutorial, VARIANTS[args.tutorial]
    tutorial = parse_tutorial(get_tutorial(name).document, name)
    assert tutorial.validation is not None
    target = tutorial.validation.performance
    print(f"machine: {machine()}; {args.load} busy process(es) beside the runs")
    with tempfile.TemporaryDirectory(prefix="stability-") as folder:
        root = Path(folder)
        shutil.copytree(
            REPO / "reference_solutions" / name,
            root / "reference_solutions" / name,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        reference_ms = float(str(judge(root, name, variant, "reference")["p95_ms"]))
        aim = args.factor * target.p95_floor_ms if target.p95_floor_ms else 3 * reference_ms
        slow, extra_ns = calibrate(root, name, variant, aim)
        print(
            f"{name}: reference p95 {reference_ms:.4f} ms; slow copy aims at {aim:.4f} ms "
            f"({extra_ns / 1e6:.4f} ms of slowdown per request); floor {target.p95_floor_ms} "
            f"ms, ratio bound {target.relative_p95}x, ceiling {target.p95_ms} ms"
        )
        stop = time.monotonic() + 3600
        burners = [
            multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
            for _ in range(args.load)
        ]
        for burner in burners:
            burner.start()
        try:
            results: dict[str, list[dict[str, object]]] = {"reference": [], "slow": []}
            for _ in range(args.runs):
                results["reference"].append(judge(root, name, variant, "reference"))
                results["slow"].append(judge(root, name, variant, str(slow)))
        finally:
            for burner in burners:
                burner.terminate()
    for who, entries in results.items():
        passes = sum(1 for entry in entries if entry["passed"])
        p95s = [float(str(entry["p95_ms"])) for entry in entries]
        ratios = [float(str(entry["ratio"])) for entry in entries if entry["ratio"] is not None]
        decided = sorted({str(entry["decided_by"]) for entry in entries})
        ratio = f"median ratio {median(ratios):.2f}x" if ratios else "no ratio"
        print(
            f"{who:>9}: {passes}/{len(entries)} passed; median p95 {median(p95s):.4f} ms "
            f"(min {min(p95s):.4f}, max {max(p95s):.4f}); {ratio}; decided by {', '.join(decided)}"
        )
    flips = sum(1 for e in results["reference"] if not e["passed"])
    flips += sum(1 for e in results["slow"] if e["passed"])
    print(f"flips: {flips} (target 0) -> {'MET' if flips == 0 else 'MISSED'}")


if __name__ == "__main__":
    main()
