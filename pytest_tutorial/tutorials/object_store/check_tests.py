"""Checks of "Tests pass consistently": the learner's own tests, repeated and shuffled."""

from __future__ import annotations

import pytest

from pytest_tutorial.fixtures.learner import CONSISTENCY_SEEDS, LearnerTests
from pytest_tutorial.learner_tests import LearnerTestRun


def _describe(run: LearnerTestRun) -> str:
    if run.timed_out:
        return "timed out"
    if run.collected == 0:
        return f"collected no tests (exit status {run.exit_code}): {run.output.strip()[-300:]}"
    return f"{run.passed} passed, {run.failed} failed, {run.errors} errors"


@pytest.mark.checklist(
    "tests",
    points=2,
    step=5,
    timeout=180,
    hint="put your tests in tests/ next "
    "to document_store.py; each test starts its own mock_aws() and resources, so they "
    "pass in any order",
)
def test_own_tests_pass_in_shuffled_order(learner_tests: LearnerTests) -> None:
    if not learner_tests.tests_dir.is_dir():
        pytest.fail(f"there is no tests folder at {learner_tests.tests_dir}")
    runs = learner_tests.consistency_runs()
    failing = [f"seed {run.seed}: {_describe(run)}" for run in runs if not run.all_passed]
    assert not failing, (
        f"your tests must pass {len(CONSISTENCY_SEEDS)} times in shuffled order; "
        + "; ".join(failing)
    )


@pytest.mark.checklist(
    "tests",
    points=2,
    step=5,
    timeout=180,
    hint="test that one body put under two names is stored once, and that a repeated put "
    "sends no second event",
)
def test_own_tests_catch_known_bugs(learner_tests: LearnerTests) -> None:
    runs = learner_tests.known_bad_runs()
    assert runs, "the tutorial ships no known-bad implementations"
    missed = [run.implementation.name for run in runs if not run.caught_a_bug]
    assert not missed, (
        "your tests pass against implementations with known bugs: "
        + ", ".join(missed)
        + " (see known_bad_impls/ in the tutorial's checks)"
    )
