"""The verdicts of the ``tests`` item from the runs of the learner's tests, and their messages.

*Pass consistently*: every run against the learner's implementation passes. *Catch bugs*: a
bug counts as caught when a test that passed against the control (a correct implementation
built from the tutorial's ``known_bad.py``, laid out exactly like every buggy one) fails or
errors against the bug, or when the run against the bug hangs or ends its process. A test
that fails against the control (one that checks the learner's own internals, or where the
code lives) catches nothing. Every failure message names the tests, and the bugs missed.
"""

from __future__ import annotations

from collections.abc import Sequence

from pytest_tutorial.learner_model import ERROR, FAILED, PASSED, LearnerTestRun

SHOWN = 3
"""How many tests or bugs a message names before "and N more"."""


def listed(names: Sequence[str], limit: int = SHOWN) -> str:
    """``a, b, c and 2 more`` (``a and b`` when there are two)."""
    if len(names) > limit:
        return f"{', '.join(names[:limit])} and {len(names) - limit} more"
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def unfinished(run: LearnerTestRun) -> str:
    """Why a run has no result, from its output's last line."""
    lines = [line for line in run.output.strip().splitlines() if line.strip()]
    return lines[0] if lines else "the run did not finish"


INTERRUPTED_EXITS = (2, 3, 4)
"""pytest's exit statuses of a run cut short (interrupted, internal or usage error): its
tests without an outcome count as failing. A run that ended at its first failing test
(status 1) did not run the tests after it: they count as nothing."""


def catching_tests(control: LearnerTestRun, run: LearnerTestRun) -> list[str]:
    """The tests that passed against the control and failed or errored in ``run``."""
    failing = []
    for nodeid in control.tests(PASSED):
        outcome = run.outcomes.get(nodeid)
        if outcome in (FAILED, ERROR) or (outcome is None and run.exit_code in INTERRUPTED_EXITS):
            failing.append(nodeid)
    return failing


def caught(control: LearnerTestRun, run: LearnerTestRun) -> bool:
    """``run``'s bug was caught (see the module docstring)."""
    if not control.finished or control.passed == 0:
        return False
    return not run.finished or bool(catching_tests(control, run))


def first_failures_undecided(
    control: LearnerTestRun | None, bugs: Sequence[LearnerTestRun]
) -> bool:
    """Whether runs that ended at their first failing test leave a verdict unknown.

    They decide every bug when the control ran every test without a failure (which tests
    pass against it is then known) and each bug's run either had no failure or failed
    first at a test that passed against the control. Otherwise (a test failed against
    the control, or a bug's run stopped at a test skipped against it) the tests after
    that failure might have caught the bug, and every run is made again to the end.
    """
    if control is None or not control.finished:
        return False
    if control.tests(FAILED, ERROR):
        return True
    return any(
        run.finished and run.tests(FAILED, ERROR) and not catching_tests(control, run)
        for run in bugs
    )


def consistency_problem(runs: Sequence[LearnerTestRun]) -> str | None:
    """Why the runs against the learner's implementation did not all pass, or None."""
    if runs and all(run.all_passed for run in runs):
        return None
    seeds = [run.seed for run in runs]
    problems = [f"seed {run.seed}: {unfinished(run)}" for run in runs if not run.finished]
    finished = [run for run in runs if run.finished]
    collection = sorted({error for run in finished for error in run.collection_errors})
    if collection:
        problems.append(f"could not collect {listed(collection)}")
    empty = [run for run in finished if run.collected == 0 and not run.collection_errors]
    if empty:
        tail = " ".join(empty[0].output.strip().splitlines()[-1:])[-300:]
        problems.append(f"no tests were collected (exit status {empty[0].exit_code}): {tail}")
    failing: dict[str, list[int]] = {}
    for run in finished:
        for nodeid in run.tests(FAILED, ERROR):
            failing.setdefault(nodeid, []).append(run.seed)
    if failing:
        described = [
            f"{nodeid} (every seed)"
            if len(failed_in) == len(seeds)
            else f"{nodeid} (seed {', '.join(map(str, failed_in))} only: it depends on the "
            "order of the tests)"
            for nodeid, failed_in in sorted(failing.items())
        ]
        count = f"{len(failing)} test{'s' if len(failing) > 1 else ''}"
        problems.append(f"{count} failed or errored: {listed(described)}")
    if not problems:
        problems.append("no test passed")
    return f"your tests must pass {len(runs)} times in shuffled order; " + "; ".join(problems)


def catch_problem(
    control: LearnerTestRun | None,
    known: Sequence[LearnerTestRun],
    hidden: Sequence[LearnerTestRun],
    needed: int,
) -> str | None:
    """Why the learner's tests do not catch enough bugs, or None when they do."""
    if control is None:
        return "the tutorial ships no correct implementation to compare the buggy ones with"
    if not control.finished:
        return (
            "your tests did not finish against a correct implementation of the tutorial's "
            f"contract: {unfinished(control)}"
        )
    off_contract = sorted(control.tests(FAILED, ERROR))
    off = (
        f"{len(off_contract)} of your tests fail against a correct implementation of the "
        f"contract too, so they catch nothing: {listed(off_contract)}"
        if off_contract
        else ""
    )
    if control.passed == 0:
        why = off or f"could not collect {listed(list(control.collection_errors))}"
        return f"none of your tests passes against a correct implementation: {why}"
    problems = []
    missed = [run.implementation for run in known if not caught(control, run)]
    if missed:
        named = [f"{bug.name} ({bug.description})" for bug in missed]
        problems.append(f"they miss {len(missed)} of {len(known)} known bugs: {listed(named)}")
    found = [run for run in hidden if caught(control, run)]
    if len(found) < needed:
        lost = [run.implementation.description for run in hidden if not caught(control, run)]
        problems.append(
            f"they catch {len(found)} of {len(hidden)} hidden bugs, {needed} needed; missed: "
            + "; ".join(lost)
        )
    if not problems:
        return None
    if off:
        problems.append(off)
    return "your tests pass against buggy implementations: " + "; ".join(problems)
