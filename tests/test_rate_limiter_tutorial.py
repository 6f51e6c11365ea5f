"""End to end: the rate_limiter tutorial against the reference, the starter and weak tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, RunTutorial, validate_report

pytestmark = pytest.mark.slow

NAME = "rate_limiter"
ITEMS = {"core", "errors", "performance", "documentation", "tests", "integration"}


@pytest.mark.wheel
def test_reference_is_validated(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("reference_solutions", NAME)
    run = run_tutorial(NAME, solution="reference")
    assert run.result.ret == 0, run.result.stdout.str()
    assert run.report["verdict"] == "validated"
    statuses = run.automated_statuses()
    assert set(statuses) == ITEMS
    assert set(statuses.values()) == {"passed"}
    assert run.report["score"]["points"] == run.report["score"]["max_points"] > 0
    assert run.report["performance"][0]["p95_ms"] is not None
    manual = [item for item in run.report["checklist"] if not item["automated"]]
    assert {item["status"] for item in manual} == {"manual"}
    run.result.stdout.fnmatch_lines([f"*tutorial {NAME}:*", "*PASS*core*", "verdict: VALIDATED*"])


@pytest.mark.wheel
def test_starter_fails_every_automated_item_and_scores_zero(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("exercises", NAME)
    run = run_tutorial(NAME)
    assert run.result.ret == 1
    assert run.report["verdict"] == "not_validated"
    statuses = run.automated_statuses()
    assert set(statuses) == ITEMS
    assert "passed" not in statuses.values(), statuses
    checks = [check for item in run.report["checklist"] for check in item["checks"]]
    assert all(check["status"] != "passed" for check in checks), [
        check["id"] for check in checks if check["status"] == "passed"
    ]
    assert run.report["score"]["points"] == 0


def test_every_starter_failure_points_at_the_step_to_write(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("exercises", NAME)
    run = run_tutorial(NAME, "-k", "not own_tests")
    for item in ("core", "errors", "performance", "integration"):
        for check in run.items[item]["checks"]:
            assert "is not implemented yet: see Step" in check["message"], check


def test_learner_tests_that_miss_the_fixed_window_fail_the_tests_item(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    folder = copy_solution("reference_solutions", NAME, to="weak_tests")
    (folder / "tests" / "test_rate_limiter.py").write_text(
        "import fakeredis\n"
        "from rate_limiter import RateLimiter\n\n"
        "def test_limit_plus_one_is_refused():\n"
        "    limiter = RateLimiter(fakeredis.FakeRedis(), limit=2, window_seconds=10)\n"
        "    assert [limiter.hit('u')['allowed'] for _ in range(3)] == [True, True, False]\n",
        encoding="utf-8",
    )
    run = run_tutorial(NAME, "-k", "own_tests", solution=folder)
    checks = {c["id"].rsplit("::", 1)[-1]: c for c in run.items["tests"]["checks"]}
    assert checks["test_own_tests_pass_in_shuffled_order"]["status"] == "passed"
    caught = checks["test_own_tests_catch_known_bugs"]
    assert caught["status"] == "failed"
    assert "fixed_window" in caught["message"], caught["message"]
    assert "drops_ttl" in caught["message"], caught["message"]


def test_grade_scores_the_reference_full_marks_and_the_starter_zero(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pytest_tutorial", "grade", "--tutorial", NAME]
    submissions = [f"reference_solutions/{NAME}", f"exercises/{NAME}"]
    done = subprocess.run(
        [*command, "--out", str(out), "--jobs", "2", *submissions],
        cwd=REPO,
        env={**os.environ, "PYTEST_ADDOPTS": "-k nothing_at_all"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    reports = {}
    for ident in (f"reference_solutions-{NAME}", f"exercises-{NAME}"):
        path = out / "submissions" / ident / "report.json"
        reports[ident] = json.loads(path.read_text(encoding="utf-8"))
        validate_report(reports[ident])
    reference, starter = reports[f"reference_solutions-{NAME}"], reports[f"exercises-{NAME}"]
    assert reference["score"]["points"] == reference["score"]["max_points"] > 0, reference["score"]
    assert reference["verdict"] == "validated"
    assert starter["score"]["points"] == 0
