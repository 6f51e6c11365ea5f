"""Fast unit tests of how check results become item statuses, points and a verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tutorial.document import parse_text
from pytest_tutorial.scoring import (
    CheckResult,
    CheckSpec,
    Status,
    Verdict,
    item_status,
    score,
)
from tests.test_document import BODY, FRONT

TUTORIAL = parse_text(FRONT + BODY, Path("demo/tutorial.md"), "demo")


def spec(name: str, item: str = "core", points: int = 1) -> CheckSpec:
    return CheckSpec(
        nodeid=name, name=name, item_id=item, points=points, step=None, location="x.py:1"
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], Status.SKIPPED),
        ([Status.SKIPPED, Status.SKIPPED], Status.SKIPPED),
        ([Status.PASSED, Status.PASSED], Status.PASSED),
        ([Status.PASSED, Status.SKIPPED], Status.PASSED),
        ([Status.SKIPPED, Status.FAILED], Status.FAILED),
        ([Status.PASSED, Status.FAILED], Status.FAILED),
        ([Status.FAILED, Status.ERROR], Status.ERROR),
        ([Status.ERROR, Status.TIMEOUT, Status.FAILED], Status.TIMEOUT),
    ],
)
def test_item_status(statuses: list[Status], expected: Status) -> None:
    assert item_status([CheckResult(status) for status in statuses]) is expected


def test_points_are_those_of_passed_checks_and_manual_items_score_nothing() -> None:
    specs = [spec("a", points=2), spec("b", points=3)]
    card = score(
        TUTORIAL, specs, {"a": CheckResult(Status.PASSED), "b": CheckResult(Status.FAILED)}
    )
    core = next(result for result in card.items if result.item.id == "core")
    assert (core.points, core.max_points, core.status) == (2, 5, Status.FAILED)
    assert {r.status for r in card.items if r.item.id != "core"} == {Status.MANUAL}
    assert (card.points, card.max_points) == (2, 5)
    assert card.verdict is Verdict.NOT_VALIDATED
    first = core.first_problem()
    assert first is not None
    assert first[0].name == "b"


def test_validated_exactly_when_every_automated_item_passed() -> None:
    specs = [spec("a"), spec("k", item="can-explain-the-design")]
    passed = {"a": CheckResult(Status.PASSED), "k": CheckResult(Status.PASSED)}
    assert score(TUTORIAL, specs, passed).verdict is Verdict.VALIDATED
    one_failed = {**passed, "k": CheckResult(Status.TIMEOUT)}
    assert score(TUTORIAL, specs, one_failed).verdict is Verdict.NOT_VALIDATED


def test_checks_that_did_not_run_never_fail_an_item_and_make_the_run_incomplete() -> None:
    specs = [spec("a"), spec("b"), spec("k", item="can-explain-the-design")]
    results = {
        "a": CheckResult(Status.PASSED),
        "b": CheckResult(Status.SKIPPED, "not run (deselected)"),
        "k": CheckResult(Status.SKIPPED, "not run (deselected)"),
    }
    card = score(TUTORIAL, specs, results)
    statuses = {result.item.id: result.status for result in card.items if result.automated}
    assert statuses == {"core": Status.PASSED, "can-explain-the-design": Status.SKIPPED}
    core = next(result for result in card.items if result.item.id == "core")
    assert (core.not_run, core.first_problem()) == (1, None)
    assert card.verdict is Verdict.INCOMPLETE
    assert card.verdict.succeeded
    failed = {**results, "a": CheckResult(Status.FAILED)}
    assert score(TUTORIAL, specs, failed).verdict is Verdict.NOT_VALIDATED
    assert not Verdict.NOT_VALIDATED.succeeded


def test_a_check_with_no_result_counts_as_failed() -> None:
    card = score(TUTORIAL, [spec("a")], {})
    assert card.items[0].status is Status.FAILED
    assert "no verdict" in card.items[0].checks[0][1].message
    assert card.verdict is Verdict.NOT_VALIDATED


def test_no_checks_or_a_run_error_give_the_error_verdict() -> None:
    assert score(TUTORIAL, [], {}).verdict is Verdict.ERROR
    passed = {"a": CheckResult(Status.PASSED)}
    assert score(TUTORIAL, [spec("a")], passed, run_error=True).verdict is Verdict.ERROR
