"""End to end: the caching tutorial against the reference, the starter and broken solutions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RunTutorial

pytestmark = pytest.mark.slow


@pytest.mark.wheel
def test_reference_is_validated(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("reference_solutions", "caching")
    run = run_tutorial("caching", solution="reference")
    assert run.result.ret == 0, run.result.stdout.str()
    assert run.report["verdict"] == "validated"
    assert run.report["solution"]["kind"] == "reference"
    statuses = run.automated_statuses()
    assert set(statuses) == {
        "core",
        "errors",
        "performance",
        "documentation",
        "tests",
        "integration",
    }
    assert set(statuses.values()) == {"passed"}
    assert run.report["score"]["points"] == run.report["score"]["max_points"] > 0
    assert run.report["performance"][0]["p95_ms"] is not None
    manual = [item for item in run.report["checklist"] if not item["automated"]]
    assert manual
    assert {item["status"] for item in manual} == {"manual"}
    run.result.stdout.fnmatch_lines(["*tutorial caching:*", "*PASS*core*", "verdict: VALIDATED*"])


@pytest.mark.wheel
def test_starter_fails_every_automated_item_and_scores_zero(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("exercises", "caching")
    run = run_tutorial("caching")  # the default solution: exercises/caching under the rootdir
    assert run.result.ret == 1
    assert run.report["verdict"] == "not_validated"
    assert run.report["solution"]["kind"] == "learner"
    statuses = run.automated_statuses()
    assert len(statuses) == 6
    assert "passed" not in statuses.values(), statuses
    checks = [check for item in run.report["checklist"] for check in item["checks"]]
    assert all(check["status"] != "passed" for check in checks), [
        check["id"] for check in checks if check["status"] == "passed"
    ]
    assert run.report["score"]["points"] == 0
    run.result.stdout.fnmatch_lines(["*FAIL*core*", "*hint:*", "verdict: NOT VALIDATED*"])


def test_every_starter_failure_points_at_the_method_and_step_to_write(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("exercises", "caching")
    run = run_tutorial("caching", "-k", "not own_tests")
    for item in ("core", "errors", "performance", "integration"):
        for check in run.items[item]["checks"]:
            message = check["message"]
            assert "Regex pattern did not match" not in message, check
            assert "monitor is not implemented" not in message, check  # the stub passes through
            points_at_a_step = "is not implemented yet: see Step" in message
            points_at_its_subject = message.startswith(("monitor(", "expected ValueError, but"))
            assert points_at_a_step or points_at_its_subject, check
