"""Tests of the learner's progress file and its column in ``pytest --tutorial-list``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.progress import NO_PROGRESS_ENV, find_progress
from tests.mini_course import REFERENCE, make_course

Run = Callable[..., pytest.RunResult]


@pytest.fixture
def course(pytester: pytest.Pytester) -> Path:
    return make_course(pytester.path)


@pytest.fixture
def pytest_run(pytester: pytest.Pytester) -> Run:
    """An in-process pytest run in the course folder (faster than a child process)."""

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest("-p", "no:randomly", *args)

    return run


def entry(course: Path) -> dict[str, Any]:
    data = json.loads((course / ".pytest-tutorial" / "progress.json").read_text(encoding="utf-8"))
    solutions: dict[str, Any] = data["tutorials"]["mini"]["solutions"]
    assert list(solutions) == ["exercises/mini"]
    return dict(solutions["exercises/mini"])


def test_progress_is_kept_between_runs_and_listed(course: Path, pytest_run: Run) -> None:
    solution = course / "exercises" / "mini"
    assert pytest_run("--tutorial=mini").ret == 1
    first = entry(course)
    assert first["runs"] == 1
    assert {k: v["status"] for k, v in first["items"].items()} == {
        "core": "failed",
        "errors": "failed",
    }
    assert first["items"]["core"]["first_passed"] is None
    assert "0/2 items" in pytest_run("--tutorial-list").stdout.str()

    (solution / "mini.py").write_text(REFERENCE, encoding="utf-8")
    assert pytest_run("--tutorial=mini").ret == 0
    second = entry(course)
    passed_at = second["items"]["core"]["first_passed"]
    assert passed_at is not None
    assert second["first_validated"] is not None
    assert second["verdict"] == "validated"
    listing = pytest_run("--tutorial-list").stdout.lines
    assert listing[0].split()[-1] == "progress"
    assert listing[1].endswith("2/2 validated")

    # a later run that deselects core keeps core's state; a failure keeps first_passed
    (solution / "mini.py").write_text(REFERENCE.replace("return high", "return value"), "utf-8")
    assert pytest_run("--tutorial=mini", "-k", "bad_range").ret == 0  # what ran passed
    third = entry(course)
    assert third["items"]["core"]["status"] == "passed"
    assert pytest_run("--tutorial=mini").ret == 1
    fourth = entry(course)
    assert fourth["items"]["core"]["status"] == "failed"
    assert fourth["items"]["core"]["first_passed"] == passed_at
    assert fourth["runs"] == 4
    assert "1/2 (validated " in pytest_run("--tutorial-list").stdout.str()
    progress = find_progress("mini", solution, course / "exercises")
    assert progress is not None
    assert progress.passed == 1
    assert progress.runs == 4


def test_reference_runs_and_verify_runs_are_not_progress(
    course: Path, pytest_run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert pytest_run("--tutorial=mini", "--tutorial-solution=reference").ret == 0
    monkeypatch.setenv(NO_PROGRESS_ENV, "1")
    assert pytest_run("--tutorial=mini").ret == 1
    assert not (course / ".pytest-tutorial" / "progress.json").exists()
    assert pytest_run("--tutorial-list").stdout.lines[1].endswith(" -")


def test_a_broken_progress_file_never_breaks_a_run(course: Path, pytest_run: Run) -> None:
    state = course / ".pytest-tutorial"
    state.mkdir()
    (state / "progress.json").write_text("{not json", encoding="utf-8")
    result = pytest_run("--tutorial=mini")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["verdict: NOT VALIDATED*"])
    assert (state / "progress.json").read_text(encoding="utf-8") == "{not json"
    assert pytest_run("--tutorial-list").ret == 0
