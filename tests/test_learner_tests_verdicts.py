"""The verdicts of the ``tests`` item and their messages, on made-up runs (fast)."""

from __future__ import annotations

from pytest_tutorial.learner_model import (
    ERROR,
    FAILED,
    PASSED,
    SKIPPED,
    Implementation,
    Kind,
    LearnerTestRun,
)
from pytest_tutorial.learner_verdicts import (
    catch_problem,
    catching_tests,
    caught,
    consistency_problem,
    first_failures_undecided,
    listed,
)

T = "tests/test_cache.py::"


def run(
    kind: Kind,
    outcomes: dict[str, str],
    *,
    seed: int = 1,
    name: str = "",
    description: str = "",
    timed_out: bool = False,
    collection_errors: tuple[str, ...] = (),
) -> LearnerTestRun:
    failing = any(outcome in (FAILED, ERROR) for outcome in outcomes.values())
    exit_code = 1 if failing or collection_errors else 0 if outcomes else 5
    return LearnerTestRun(
        Implementation(kind, name, description),
        seed,
        -1 if timed_out else exit_code,
        {T + test: outcome for test, outcome in outcomes.items()},
        collection_errors,
        "the run did not finish within 60 s" if timed_out else "",
        timed_out=timed_out,
    )


def known(name: str, outcomes: dict[str, str]) -> LearnerTestRun:
    return run(Kind.KNOWN, outcomes, name=name, description=f"the {name} bug")


def hidden(index: int, outcomes: dict[str, str], **kwargs: bool) -> LearnerTestRun:
    return run(Kind.HIDDEN, outcomes, description=f"change {index}", **kwargs)  # type: ignore[arg-type]


GOOD = {"a": PASSED, "b": PASSED, "c": PASSED}
CONTROL = run(Kind.CONTROL, GOOD)


def test_listed_names_a_few_and_counts_the_rest() -> None:
    assert listed([]) == ""
    assert listed(["a"]) == "a"
    assert listed(["a", "b"]) == "a and b"
    assert listed(["a", "b", "c"]) == "a, b and c"
    assert listed(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"


def test_passing_runs_have_no_consistency_problem() -> None:
    runs = [run(Kind.YOURS, GOOD, seed=seed) for seed in (1, 2, 3)]
    assert consistency_problem(runs) is None


def test_the_consistency_message_names_the_failing_tests_and_order_dependence() -> None:
    runs = [
        run(Kind.YOURS, {"a": FAILED, "b": PASSED, "c": ERROR, "d": FAILED, "e": FAILED}, seed=1),
        run(Kind.YOURS, {"a": FAILED, "b": PASSED, "c": ERROR, "d": FAILED, "e": FAILED}, seed=2),
        run(Kind.YOURS, {"a": FAILED, "b": FAILED, "c": ERROR, "d": FAILED, "e": FAILED}, seed=3),
    ]
    message = consistency_problem(runs)
    assert message is not None
    assert message.startswith("your tests must pass 3 times in shuffled order; 5 tests failed")
    assert f"{T}a (every seed)" in message
    assert f"{T}b (seed 3 only: it depends on the order of the tests)" in message
    assert f"{T}c (every seed)" in message
    assert "and 2 more" in message


def test_a_run_that_hung_or_collected_nothing_is_named() -> None:
    runs = [
        run(Kind.YOURS, {}, seed=1, timed_out=True),
        run(Kind.YOURS, {}, seed=2, collection_errors=("tests/test_cache.py: ImportError: x",)),
        run(Kind.YOURS, {}, seed=3),
    ]
    message = consistency_problem(runs)
    assert message is not None
    assert "seed 1: the run did not finish within 60 s" in message
    assert "could not collect tests/test_cache.py: ImportError: x" in message
    assert "no tests were collected (exit status 5)" in message


def test_a_bug_is_caught_by_a_test_that_passes_against_the_control() -> None:
    bug = known("drops_ttl", {"a": PASSED, "b": FAILED, "c": ERROR})
    assert catching_tests(CONTROL, bug) == [T + "b", T + "c"]
    assert caught(CONTROL, bug)
    assert not caught(CONTROL, known("x", GOOD))


def test_a_test_failing_against_the_control_catches_nothing() -> None:
    """Tests that tell runs apart (by location, content or internals) fail on the control."""
    control = run(Kind.CONTROL, {"a": PASSED, "sniff": FAILED})
    bug = known("drops_ttl", {"a": PASSED, "sniff": FAILED})
    assert not caught(control, bug)
    message = catch_problem(control, [bug], [], 0)
    assert message is not None
    assert "they miss 1 of 1 known bugs: drops_ttl (the drops_ttl bug)" in message
    assert (
        f"1 of your tests fail against a correct implementation of the contract too, so they "
        f"catch nothing: {T}sniff" in message
    )


def test_a_run_that_hangs_against_a_bug_has_caught_it() -> None:
    assert caught(CONTROL, hidden(1, {}, timed_out=True))
    assert not caught(run(Kind.CONTROL, {}, timed_out=True), hidden(1, {"a": FAILED}))


def test_the_catch_verdict_needs_every_known_bug_and_half_the_hidden_ones() -> None:
    known_runs = [known("a", {"a": FAILED}), known("b", {"b": FAILED})]
    hidden_runs = [hidden(1, {"a": FAILED}), hidden(2, GOOD), hidden(3, GOOD), hidden(4, GOOD)]
    message = catch_problem(CONTROL, known_runs, hidden_runs, 2)
    assert message == (
        "your tests pass against buggy implementations: they catch 1 of 4 hidden bugs, "
        "2 needed; missed: change 2; change 3; change 4"
    )
    hidden_runs[2] = hidden(3, {"c": ERROR})
    assert catch_problem(CONTROL, known_runs, hidden_runs, 2) is None
    message = catch_problem(CONTROL, [known_runs[0], known("b", GOOD)], hidden_runs, 2)
    assert message is not None
    assert "they miss 1 of 2 known bugs: b (the b bug)" in message


def test_tests_that_all_fail_against_the_control_are_named() -> None:
    control = run(Kind.CONTROL, {"x": FAILED, "y": FAILED})
    message = catch_problem(control, [known("a", {"x": FAILED})], [], 0)
    assert message is not None
    assert message.startswith("none of your tests passes against a correct implementation")
    assert f"{T}x and {T}y" in message


def test_a_control_that_did_not_finish_is_said() -> None:
    control = run(Kind.CONTROL, {}, timed_out=True)
    message = catch_problem(control, [known("a", {})], [], 0)
    assert message is not None
    assert "did not finish against a correct implementation" in message


def test_a_run_ended_at_its_first_failure_is_caught_by_that_test_alone() -> None:
    """pytest's ``-x``: the tests after the failure have no outcome and count as nothing."""
    stopped = hidden(1, {"b": FAILED})
    assert catching_tests(CONTROL, stopped) == [T + "b"]
    at_a_skipped_test = hidden(2, {"s": FAILED})
    control = run(Kind.CONTROL, {**GOOD, "s": SKIPPED})
    assert not caught(control, at_a_skipped_test)
    interrupted = LearnerTestRun(Implementation(Kind.HIDDEN), 1, 2, {}, ("x.py: boom",), "")
    assert catching_tests(CONTROL, interrupted) == [T + "a", T + "b", T + "c"]


def test_first_failures_decide_only_after_a_control_without_failures() -> None:
    decided = [hidden(1, {"a": PASSED, "b": FAILED}), hidden(2, GOOD)]
    assert not first_failures_undecided(CONTROL, decided)
    assert not first_failures_undecided(None, decided)
    failing_control = run(Kind.CONTROL, {"a": PASSED, "x": FAILED})
    assert first_failures_undecided(failing_control, decided)


def test_a_bug_run_stopped_at_a_test_skipped_against_the_control_is_undecided() -> None:
    """The tests after it might have caught the bug: every run is made again to the end."""
    control = run(Kind.CONTROL, {**GOOD, "s": SKIPPED})
    assert first_failures_undecided(control, [hidden(1, {"a": PASSED, "s": FAILED})])
    assert not first_failures_undecided(control, [hidden(1, {"s": SKIPPED, "c": FAILED})])
