"""The coverage rules (pytest_tutorial.coverage): every problem found, in a stable order."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tutorial.coverage import (
    MarkedCheck,
    ProblemKind,
    check_problems,
    check_specs,
)
from pytest_tutorial.document import parse_text
from tests.test_document import BODY, FRONT

TUTORIAL = parse_text(FRONT + BODY, Path("demo/tutorial.md"), "demo")


def check(name: str = "test_a", /, **marker: object) -> MarkedCheck:
    fields: dict[str, object] = {"item_id": "core", **marker}
    return MarkedCheck(f"demo/check_a.py::{name}", name, Path("demo/check_a.py"), 7, True, **fields)


def kinds(*checks: MarkedCheck) -> list[ProblemKind]:
    return [problem.kind for problem in check_problems(list(checks), TUTORIAL)]


def test_a_marked_check_of_the_item_is_free_of_problems() -> None:
    assert kinds(check(points=2, step=2, timeout=5, hint=["nudge", "more"])) == []
    spec = check_specs([check(points=2, step=2, timeout=5, hint=["a", "b"])], TUTORIAL)
    made = spec["demo/check_a.py::test_a"]
    assert (made.points, made.timeout_s, made.hints, made.location) == (
        2,
        5.0,
        ("a", "b"),
        "demo/check_a.py:7",
    )
    assert made.step is not None
    assert made.step.number == 2


@pytest.mark.parametrize(
    ("marker", "kind"),
    [
        ({"item_id": "nope"}, ProblemKind.UNKNOWN_ITEM),
        ({"item_id": None}, ProblemKind.UNKNOWN_ITEM),
        ({"points": -1}, ProblemKind.BAD_POINTS),
        ({"points": 1.5}, ProblemKind.BAD_POINTS),
        ({"points": True}, ProblemKind.BAD_POINTS),
        ({"step": 9}, ProblemKind.BAD_STEP),
        ({"step": "2"}, ProblemKind.BAD_STEP),
        ({"timeout": 0}, ProblemKind.BAD_TIMEOUT),
        ({"timeout": "20"}, ProblemKind.BAD_TIMEOUT),
        ({"timeout": float("nan")}, ProblemKind.BAD_TIMEOUT),
        ({"hint": 3}, ProblemKind.BAD_HINT),
        ({"hint": ["ok", 3]}, ProblemKind.BAD_HINT),
    ],
)
def test_each_bad_marker_argument_is_named(marker: dict[str, object], kind: ProblemKind) -> None:
    problems = check_problems([check(**marker), check("test_b")], TUTORIAL)
    assert [p.kind for p in problems] == [kind]
    assert problems[0].path == Path("demo/check_a.py")
    assert problems[0].line == 7
    assert problems[0].message.startswith("check test_a ")


def test_every_problem_is_listed_markers_first_then_the_checklist() -> None:
    unmarked = MarkedCheck("demo/check_a.py::test_u", "test_u", Path("demo/check_a.py"), 3, False)
    found = check_problems([unmarked, check("test_m", item_id="docs")], TUTORIAL)
    assert [p.kind for p in found] == [
        ProblemKind.UNMARKED,
        ProblemKind.UNCOVERED,
        ProblemKind.MANUAL_COVERED,
    ]
    uncovered = found[1]
    assert uncovered.path == TUTORIAL.path
    assert "'core'" in uncovered.message
    assert "manual" in uncovered.fix


def test_the_first_problem_is_the_runs_usage_error() -> None:
    problem = check_problems([check(points=-1)], TUTORIAL)[0]
    text = str(problem.error())
    assert text.startswith("demo/check_a.py:7: check test_a has points=-1")
    assert "\n  fix: " in text
    assert problem.to_plain()["kind"] == "bad_points"
