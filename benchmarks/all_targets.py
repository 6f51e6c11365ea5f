"""Every speed target of the performance work, measured one script after another.

The targets are met when each is met in one window on one machine; this runs the scripts
that measure them back to back (about 16 minutes on the project's 2-core machine), keeps
each script's whole output in a folder, and prints one table: each target, its figure and
whether it is met. The start-up calibration (:func:`_common.start_up_calibration`) is
measured before the first script and after the last: a window whose calibration moved a
lot was not one machine. The scripts run without ``PYTHONDONTWRITEBYTECODE``, as on a
learner's machine, where pytest keeps its rewrites of the check modules.

    python benchmarks/all_targets.py [--out DIR] [--only TEXT]

``--only TEXT`` runs the scripts whose command line contains TEXT (``object_store``,
``tier``), to measure again the targets a window missed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import REPO, environment_without, machine, start_up_calibration

BENCHMARKS = REPO / "benchmarks"


@dataclass(frozen=True)
class Target:
    """One target: where its figure is in a script's output, and its limit."""

    name: str
    pattern: str
    """A regular expression whose first group is the figure."""
    limit: float
    unit: str
    at_least: bool = False
    """True when the figure must reach the limit (a rate), False when it must stay under it."""

    def verdict(self, figure: float) -> str:
        """``met`` or ``missed``."""
        met = figure >= self.limit if self.at_least else figure <= self.limit
        return "met" if met else "missed"

    def described_limit(self) -> str:
        """The limit as the issue states it (``<= 2.0 s``, ``>= 60 a minute``)."""
        return f"{'>=' if self.at_least else '<='} {self.limit:g}{self.unit}"


@dataclass(frozen=True)
class Script:
    """A script's command line and the targets its output gives."""

    arguments: tuple[str, ...]
    targets: tuple[Target, ...]

    @property
    def label(self) -> str:
        """The command, as printed and as the name of its output file."""
        return " ".join(self.arguments)


def _whole_tutorial(tutorial: str, limit: float) -> Script:
    """``whole_tutorial.py`` for ``tutorial``: its rerun and its first run, each <= ``limit``."""
    return Script(
        ("whole_tutorial.py", "--tutorial", tutorial, "--runs", "7"),
        (
            Target(f"{tutorial}: rerun", r"^rerun: wall time .*?median ([\d.]+) s", limit, " s"),
            Target(
                f"{tutorial}: first run",
                r"^fresh runs: wall time .*?median ([\d.]+) s",
                limit,
                " s",
            ),
        ),
    )


SCRIPTS = (
    _whole_tutorial("caching", 2.0),
    _whole_tutorial("batch_processor", 2.0),
    _whole_tutorial("object_store", 3.0),
    Script(
        ("watch_save.py", "--saves", "7"),
        (
            Target(
                "watch caching: save to checklist",
                r"^save to checklist .*?median ([\d.]+) s",
                1.5,
                " s",
            ),
        ),
    ),
    Script(
        ("idle_cost.py",),
        (Target("idle plugin cost (CPU ratio)", r"^CPU ratio: ([\d.]+)", 1.03, "x"),),
    ),
    Script(
        ("grade.py", "--rounds", "3"),
        (
            Target(
                "contained submission against an uncontained warm run",
                r"^\s+bwrap\+worker\s+[\d.]+ s .*ratio to uncontained ([\d.]+)",
                1.3,
                "x",
            ),
        ),
    ),
    Script(
        ("grade.py", "--class-size", "300", "--throughput-only"),
        (
            Target(
                "grade --jobs 2, a class of 300",
                r"-> ([\d.]+) submissions per minute",
                60.0,
                " a minute",
                at_least=True,
            ),
        ),
    ),
    Script(
        ("fast_tier.py", "--runs", "3"),
        (Target("fast tier", r"^fast tier: median ([\d.]+) s", 90.0, " s"),),
    ),
    Script(
        ("slow_tier.py", "--whole"),
        (Target("full suite, one command", r"^whole suite .*?median ([\d.]+) s", 240.0, " s"),),
    ),
)


def _run(script: Script, out: Path, number: int) -> tuple[str, float, Path]:
    """Run ``script``; its output, its wall seconds and the file in ``out`` that keeps it."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script.arguments[0]), *script.arguments[1:]],
        cwd=REPO,
        env=environment_without("PYTHONDONTWRITEBYTECODE"),
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    name = re.sub(r"[^\w.-]+", "-", script.label)
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        output += f"\n(the script exited with status {completed.returncode})\n"
    kept = out / f"{number:02d}-{name}.txt"
    kept.write_text(output, encoding="utf-8")
    return output, elapsed, kept


def _figure(target: Target, output: str) -> float | None:
    match = re.search(target.pattern, output, flags=re.MULTILINE)
    return float(match.group(1)) if match else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="folder for each script's output")
    parser.add_argument("--only", default="", help="run the scripts whose command has this")
    options = parser.parse_args()
    scripts = [script for script in SCRIPTS if options.only in script.label]
    if not scripts:
        labels = "; ".join(script.label for script in SCRIPTS)
        raise SystemExit(f"--only {options.only!r} matches none of the scripts: {labels}")
    out = options.out or Path(tempfile.mkdtemp(prefix="speed-targets-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    print(f"each script's output: {out}", flush=True)
    window_start = time.strftime("%Y-%m-%d %H:%M")
    rows: list[tuple[Target, float | None, Path]] = []
    for number, script in enumerate(scripts, start=1):
        output, elapsed, kept = _run(script, out, number)
        print(f"  {time.strftime('%H:%M:%S')} {script.label} ({elapsed:.0f} s)", flush=True)
        rows.extend((target, _figure(target, output), kept) for target in script.targets)
    after = start_up_calibration()
    print(
        f"window {window_start} to {time.strftime('%H:%M')}; start-up calibration at its end "
        f"{after * 1000:.0f} ms"
    )
    width = max(len(target.name) for target, _, _ in rows)
    missed = 0
    for target, figure, kept in rows:
        if figure is None:
            missed += 1
            shown, verdict = "no figure", f"missed (its script's output: {kept})"
        else:
            shown, verdict = f"{figure:g}{target.unit}", target.verdict(figure)
            missed += verdict == "missed"
        print(f"  {target.name:<{width}}  {shown:>14}  {target.described_limit():>16}  {verdict}")
    print(f"{len(rows) - missed} of {len(rows)} targets met")


if __name__ == "__main__":
    main()
