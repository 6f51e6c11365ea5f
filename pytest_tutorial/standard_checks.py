"""Checks every tutorial needs the same way: the learner's own tests pass and catch bugs.

A tutorial's ``check_tests.py`` builds them with its own hints and step::

    test_own_tests_pass_in_shuffled_order, test_own_tests_catch_known_bugs = own_tests_checks(
        step=5, pass_hint="...", catch_hint="..."
    )

Both use the ``learner_tests`` fixture: the solution's ``tests/`` run three times in shuffled
order, and once against each folder of the tutorial's ``known_bad_impls/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from pytest_tutorial.fixtures.learner import CONSISTENCY_SEEDS, LearnerTests
from pytest_tutorial.learner_tests import LearnerTestRun

Hint = str | Sequence[str]
Check = Callable[[LearnerTests], None]


def describe(run: LearnerTestRun) -> str:
    """One run's outcome in a few words, for a failure message."""
    if run.timed_out:
        return "timed out"
    if run.collected == 0:
        return f"collected no tests (exit status {run.exit_code}): {run.output.strip()[-300:]}"
    return f"{run.passed} passed, {run.failed} failed, {run.errors} errors"


def own_tests_checks(
    *, step: int, pass_hint: Hint, catch_hint: Hint, points: int = 2, timeout: float = 180
) -> tuple[Check, Check]:
    """The two checks of the "tests" item, marked with the tutorial's step and hints."""

    def mark(hint: Hint) -> pytest.MarkDecorator:
        return pytest.mark.checklist(
            "tests",
            points=points,
            step=step,
            timeout=timeout,
            hint=hint if isinstance(hint, str) else list(hint),
        )

    @mark(pass_hint)
    def test_own_tests_pass_in_shuffled_order(learner_tests: LearnerTests) -> None:
        if not learner_tests.tests_dir.is_dir():
            pytest.fail(f"there is no tests folder at {learner_tests.tests_dir}")
        runs = learner_tests.consistency_runs()
        failing = [f"seed {run.seed}: {describe(run)}" for run in runs if not run.all_passed]
        assert not failing, (
            f"your tests must pass {len(CONSISTENCY_SEEDS)} times in shuffled order; "
            + "; ".join(failing)
        )

    @mark(catch_hint)
    def test_own_tests_catch_known_bugs(learner_tests: LearnerTests) -> None:
        runs = learner_tests.known_bad_runs()
        assert runs, "the tutorial ships no known-bad implementations"
        missed = [run.implementation.name for run in runs if not run.caught_a_bug]
        assert not missed, (
            "your tests pass against implementations with known bugs: "
            + ", ".join(missed)
            + " (see known_bad_impls/ in the tutorial's checks)"
        )

    return test_own_tests_pass_in_shuffled_order, test_own_tests_catch_known_bugs
