"""Child program: run a learner's tests several times in one process, one run after another.

Started by :mod:`pytest_tutorial.learner_tests` as ``python -m pytest_tutorial.learner_runner
SPEC.json``. Each run puts its implementation folder first on ``sys.path``, shuffles the
tests with its seed, and afterwards drops every module it imported, so the next run (the
next seed, or a known-bad implementation of the same module name) starts clean. Results
are appended to the results file one line per run, so a run that hangs loses only itself
and the ones after it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.learner_tests import INI, LEARNER_PLUGINS, OUTPUT_TAIL, LearnerTestRun, to_json
from pytest_tutorial.shuffle import SEED_VARIABLE


class _Counts:
    """Counts outcomes the way pytest's summary line does."""

    def __init__(self) -> None:
        self.passed = self.failed = self.errors = self.skipped = 0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            if report.passed:
                self.passed += 1
            elif report.failed:
                self.failed += 1
        if report.skipped:
            self.skipped += 1
        elif report.failed and report.when != "call":
            self.errors += 1

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors += 1


def _forget_modules_under(*folders: Path) -> None:
    """Drop the modules loaded from the learner's folders, so the next run imports them anew.

    Only those: dropping a library such as asyncio would make a second copy of it, whose
    exception classes (``CancelledError``) no longer match the first copy's.
    """
    roots = [folder.resolve() for folder in folders]
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and any(Path(file).resolve().is_relative_to(root) for root in roots):
            del sys.modules[name]


def run_one(tests_dir: Path, implementation: Path, seed: int, scratch: Path) -> LearnerTestRun:
    """One run of the learner's tests against ``implementation``, isolated from the others."""
    ini = scratch / "pytest.ini"
    ini.write_text(INI, encoding="utf-8")
    path_before = list(sys.path)
    sys.path.insert(0, str(implementation))
    os.environ[SEED_VARIABLE] = str(seed)
    counts = _Counts()
    output = io.StringIO()
    arguments = [
        str(tests_dir),
        "-c",
        str(ini),
        "--rootdir",
        str(scratch),
        "-q",
        "-p",
        "no:cacheprovider",
        *LEARNER_PLUGINS,
        "-p",
        "pytest_tutorial.shuffle",
    ]
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            exit_code = int(pytest.main(arguments, plugins=[counts]))
    finally:
        sys.path[:] = path_before
        _forget_modules_under(implementation, tests_dir)
    return LearnerTestRun(
        implementation,
        seed,
        exit_code,
        counts.passed,
        counts.failed,
        counts.errors,
        counts.skipped,
        output.getvalue()[-OUTPUT_TAIL:],
    )


def main(spec_path: str) -> int:
    """Run every job of the spec file, appending each result as it finishes."""
    spec: dict[str, Any] = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    scratch = Path(spec["scratch"])
    os.chdir(scratch)
    with open(spec["results"], "a", encoding="utf-8") as results:
        for job in spec["jobs"]:
            run = run_one(
                Path(spec["tests_dir"]), Path(job["implementation"]), job["seed"], scratch
            )
            results.write(to_json(run) + "\n")
            results.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
