"""Checks every tutorial needs the same way: the learner's own tests pass and catch bugs.

A tutorial's ``check_tests.py`` builds them with its own hints and step::

    test_own_tests_pass_in_shuffled_order, test_own_tests_catch_known_bugs = own_tests_checks(
        step=5, pass_hint="...", catch_hint="..."
    )

Both use the ``learner_tests`` fixture: the solution's ``tests/`` run three times in shuffled
order against the learner's code, and once against a correct implementation built from the
tutorial's ``known_bad.py``, each of its known bugs and :data:`SAMPLE_SIZE` hidden bugs
(:mod:`pytest_tutorial.learner_verdicts` judges them). The catch check's first hint states
the rule it judges by.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from pytest_tutorial.fixtures.learner import LearnerTests
from pytest_tutorial.hidden_bugs import SAMPLE_SIZE, needed
from pytest_tutorial.learner_verdicts import catch_problem, consistency_problem

Hint = str | Sequence[str]
Check = Callable[[LearnerTests], None]

CATCH_RULE = (
    f"your tests must catch every known bug and at least {needed(SAMPLE_SIZE)} of "
    f"{SAMPLE_SIZE} hidden bugs (small changes to a correct implementation); a bug is caught "
    "when a test that passes against a correct implementation of the contract fails against it"
)
"""The rule of the catch check, stated in its first hint."""


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

    levels = [catch_hint] if isinstance(catch_hint, str) else list(catch_hint)
    first = f"{CATCH_RULE}. {levels[0][:1].upper()}{levels[0][1:]}" if levels else CATCH_RULE
    catch_levels = [first, *levels[1:]]

    @mark(pass_hint)
    def test_own_tests_pass_in_shuffled_order(learner_tests: LearnerTests) -> None:
        if not learner_tests.tests_dir.is_dir():
            pytest.fail(f"there is no tests folder at {learner_tests.tests_dir}")
        problem = consistency_problem(learner_tests.consistency_runs())
        assert problem is None, problem

    @mark(catch_levels)
    def test_own_tests_catch_known_bugs(learner_tests: LearnerTests) -> None:
        if not learner_tests.tests_dir.is_dir():
            pytest.fail(f"there is no tests folder at {learner_tests.tests_dir}")
        if learner_tests.problem:
            pytest.fail(f"the tutorial's bugs cannot be run: {learner_tests.problem}")
        known = learner_tests.known_bad_runs()
        assert known, "the tutorial ships no known-bad implementations (KNOWN_BUGS in known_bad.py)"
        problem = catch_problem(
            learner_tests.control_run(),
            known,
            learner_tests.hidden_runs(),
            learner_tests.hidden_needed,
        )
        assert problem is None, problem

    return test_own_tests_pass_in_shuffled_order, test_own_tests_catch_known_bugs
