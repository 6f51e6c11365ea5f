"""Tests of ``pytest-tutorial verify`` on the ``mini`` course (tests/mini_course.py).

A whole verify of it takes seconds; the constant its reference holds and no check reads
must survive mutation and be reported with file and line.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pytest_tutorial.cli import main
from pytest_tutorial.verify.analysis import _judge
from pytest_tutorial.verify.equivalents import EQUIVALENTS_FILE
from pytest_tutorial.verify.mutation import Mutant
from pytest_tutorial.verify.results import MutantResult, MutantStatus, MutationSummary, Outcome
from pytest_tutorial.verify.steps import Target, coverage_step, document_step
from tests.commands import cli, steps, verify
from tests.mini_course import REFERENCE, STARTER, make_course


@pytest.mark.slow
def test_a_sound_tutorial_passes_and_the_survivor_is_named(tmp_path: Path) -> None:
    course = make_course(tmp_path, extra_front_matter="\n  min_kill_rate: 0.8")
    unlisted, _ = verify(course, "mini", "--jobs", "2")
    assert unlisted.returncode == 1
    assert "reference_solutions/mini/mini.py:3: constant: `1000` -> `1001`" in unlisted.stdout
    (course / "tutorials" / "mini" / EQUIVALENTS_FILE).write_text(
        "- file: mini.py\n  change: 'constant: `1000` -> `1001`'\n"
        "  reason: the scale only matters past 1000\n",
        encoding="utf-8",
    )
    result, document = verify(course, "mini", "--jobs", "2")
    assert result.returncode == 0, result.stdout
    assert {name: step["outcome"] for name, step in steps(document).items()} == dict.fromkeys(
        ("document", "placeholders", "coverage", "reference", "starter", "mutation"), "passed"
    )
    mutation = document["tutorials"][0]["mutation"]
    assert mutation["run"] == mutation["total_mutants"] >= 8
    survivors = [m for m in mutation["mutants"] if m["status"] == "survived"]
    assert [(m["file"], m["line"], m["original"], m["mutated"]) for m in survivors] == [
        ("mini.py", 3, "1000", "1001")
    ]
    killed = [m for m in mutation["mutants"] if m["status"] == "killed"]
    assert all("test_" in m["killed_by"] for m in killed)
    assert mutation["kill_rate"] == pytest.approx((mutation["run"] - 1) / mutation["run"])
    assert "minimum 80%" in steps(document)["mutation"]["summary"]
    assert "kill rate" in result.stdout
    assert "1 survivor(s) listed as equivalent" in result.stdout
    assert not list((course / "reference_solutions" / "mini").glob("*mutant*"))
    assert sorted(p.name for p in (course / "reference_solutions" / "mini").iterdir()) == [
        "mini.py"
    ]


def test_a_missed_minimum_kill_rate_or_an_unlisted_survivor_fails(tmp_path: Path) -> None:
    mutant = Mutant("mini.py", 0, 3, 9, "constant", "1000", "1001")
    results = (
        MutantResult(mutant, MutantStatus.SURVIVED),
        MutantResult(mutant, MutantStatus.KILLED, "check_mini.py::test_clamps"),
        MutantResult(mutant, MutantStatus.TIMEOUT, "stopped at the time limit"),
    )
    summary = MutationSummary(3, results, 0.9, own_tests_run=False, jobs=1, duration_s=1.0)
    target = Target("mini", tmp_path, Path("course"), Path("course"))
    step = _judge(target, summary)
    assert step.outcome is Outcome.FAILED
    assert step.summary == "kill rate 67% (2/3 killed), minimum 90%"
    [finding] = step.findings
    assert (finding.path, finding.line) == (str(Path("course/reference_solutions/mini/mini.py")), 3)
    lenient = replace(summary, min_kill_rate=0.6)
    assert _judge(target, lenient).outcome is Outcome.FAILED  # the survivor is not listed
    (tmp_path / EQUIVALENTS_FILE).write_text(
        "- file: mini.py\n  change: 'constant: `1000` -> `1001`'\n  reason: only logged\n"
        "- file: mini.py\n  change: 'constant: `7` -> `8`'\n  reason: gone since\n",
        encoding="utf-8",
    )
    judged = _judge(target, lenient)
    assert judged.outcome is Outcome.PASSED
    assert judged.summary.endswith("1 survivor(s) listed as equivalent")
    [stale] = judged.findings
    assert stale.message.startswith("stale entry: no surviving mutant of mini.py")


@pytest.mark.slow
def test_a_broken_reference_and_a_lenient_starter_are_explained(tmp_path: Path) -> None:
    course = make_course(tmp_path)
    reference = course / "reference_solutions" / "mini" / "mini.py"
    reference.write_text(REFERENCE.replace("return high", "return value"), encoding="utf-8")
    starter = course / "exercises" / "mini" / "mini.py"
    starter.write_text(
        STARTER.replace(
            'raise NotImplementedError("clamp is not implemented yet: see Step 1")',
            'raise ValueError("not yet")',
        ),
        encoding="utf-8",
    )
    result, document = verify(course, "mini")
    assert result.returncode == 1
    found = steps(document)
    assert found["reference"]["outcome"] == "failed"
    [problem] = found["reference"]["findings"]
    assert problem["message"].startswith("item 'core' failed: test_clamps: clamp(11, 0, 10)")
    assert problem["path"].endswith("check_mini.py")
    assert problem["line"] >= 1
    assert found["starter"]["outcome"] == "failed"
    assert "item 'errors' passes on the starter code (test_bad_range)" in result.stdout
    assert found["starter"]["summary"].endswith("pass on the starter in exercises/mini")
    assert found["mutation"]["outcome"] == "skipped"
    assert "mini FAILED at reference, starter" in result.stdout.splitlines()[-1]


@pytest.mark.slow
def test_an_unknown_tutorial_is_a_usage_error(tmp_path: Path) -> None:
    course = make_course(tmp_path)
    result = cli(course, "verify", "nope")
    assert result.returncode == 2
    assert "nope: no such tutorial" in result.stdout
    assert "mini" in result.stdout


def test_bad_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["verify", "--max-mutants", "-3"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "--max-mutants" in error
    assert "whole number" in error


@pytest.mark.slow
def test_the_caching_checks_cover_every_item() -> None:
    """The probe on a bundled tutorial (its whole verify is for the command line)."""
    repo = Path(__file__).resolve().parent.parent
    target = Target("caching", repo / "pytest_tutorial/tutorials/caching", repo, repo)
    _, tutorial = document_step(target)
    assert tutorial is not None
    coverage, runnable = coverage_step(target, tutorial)
    assert runnable
    assert coverage.outcome is Outcome.PASSED, coverage.findings
    assert coverage.summary.startswith("6 Validation Checklist items: 6 automated by ")
    assert {c["nodeid"].rsplit("::", 1)[1] for c in target.checks if c["item"] == "tests"} == set(
        check.rsplit("::", 1)[1] for check in target.slow_checks()
    )
