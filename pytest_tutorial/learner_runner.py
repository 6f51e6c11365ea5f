"""One run of a learner's tests, in a child forked from the warm server (:mod:`.warm`).

:mod:`pytest_tutorial.learner_tests` asks the server to call :func:`run_forked` once per
run. The run lays out the neutral folder (the solution's entries, the module under test in
place of the contract's module), runs the tests from it with the run's seed (for the
shuffle, and for Python's ``random`` module, so a run is repeatable), wipes the folder and
writes its result (one JSON line) to the file the parent named. Every run is a fresh fork:
no module a run imported, and nothing it changed in memory, reaches another run.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import linecache
import os
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.learner_layout import SKIPPED_NAMES, TESTS_FOLDER
from pytest_tutorial.learner_model import ERROR, FAILED, PASSED, SKIPPED
from pytest_tutorial.learner_tests import (
    NEUTRAL_FOLDER,
    SEED_VARIABLE,
    pytest_arguments,
    result_line,
    run_plugins,
)
from pytest_tutorial.run_slots import lower_priority


class _Outcomes:
    """Each test's outcome by node id, and the files that could not be collected."""

    def __init__(self) -> None:
        self.outcomes: dict[str, str] = {}
        self.collection_errors: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        known = self.outcomes.get(report.nodeid)
        if report.when == "call":
            outcome = PASSED if report.passed else FAILED if report.failed else SKIPPED
            self.outcomes[report.nodeid] = outcome if known != ERROR else ERROR
        elif report.failed and known != FAILED:
            self.outcomes[report.nodeid] = ERROR
        elif report.skipped and report.when == "setup":
            self.outcomes[report.nodeid] = SKIPPED

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            lines = [line for line in report.longreprtext.splitlines() if line.strip()]
            last = lines[-1].strip() if lines else "collection failed"
            self.collection_errors.append(f"{report.nodeid or TESTS_FOLDER}: {last}"[:300])


def _lay_out(spec: dict[str, Any], source: str | None, folder: Path) -> None:
    """The solution's entries, with the module under test in place of the contract's."""
    solution = Path(spec["solution"])
    folder.mkdir()
    ignore = shutil.ignore_patterns(*SKIPPED_NAMES)
    for name in spec["entries"]:
        origin, target = solution / name, folder / name
        try:
            if origin.is_dir() and not origin.is_symlink():
                shutil.copytree(origin, target, symlinks=True, ignore=ignore)
            else:
                shutil.copy2(origin, target, follow_symlinks=False)
        except OSError:
            continue  # vanished or unreadable: the tests see it missing
    if source is not None:
        module = folder / spec["module_path"]
        module.parent.mkdir(parents=True, exist_ok=True)
        module.unlink(missing_ok=True)
        module.write_text(source, encoding="utf-8")


def run_one(
    spec: dict[str, Any], source: str | None, seed: int, *, exitfirst: bool = False
) -> bytes:
    """One run of the learner's tests against ``source``; its result line.

    With ``exitfirst`` the run ends at its first failing test (pytest's ``-x``).
    """
    scratch = Path(spec["scratch"])
    folder = scratch / NEUTRAL_FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    _lay_out(spec, source, folder)
    importlib.invalidate_caches()
    linecache.clearcache()
    path_before = list(sys.path)
    sys.path.insert(0, str(folder))
    os.chdir(folder)
    os.environ[SEED_VARIABLE] = str(seed)
    random.seed(seed)  # code drawing random jitter behaves the same in every run of a seed
    recorder = _Outcomes()
    output = io.StringIO()
    arguments = pytest_arguments(folder, scratch / "pytest.ini")
    if exitfirst:
        arguments.append("-x")
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            exit_code = int(pytest.main(arguments, plugins=[recorder, *run_plugins()]))
    finally:
        sys.path[:] = path_before
        os.chdir(scratch)
        shutil.rmtree(folder, ignore_errors=True)
    return result_line(exit_code, recorder.outcomes, recorder.collection_errors, output.getvalue())


def run_forked(payload: dict[str, Any]) -> int:
    """The warm server's target: one run (``payload``: the spec, source, seed, exitfirst).

    A run started beyond one per core comes with a ``niceness`` (:mod:`.run_slots`).
    """
    lower_priority(int(payload.get("niceness", 0)))
    exitfirst = bool(payload.get("exitfirst", False))
    line = run_one(payload, payload["source"], int(payload["seed"]), exitfirst=exitfirst)
    Path(payload["result"]).write_bytes(line)
    return 0
