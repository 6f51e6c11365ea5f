"""The one home of the checklist marker and the coverage rules of a tutorial's checks.

Every check carries ``@pytest.mark.checklist("ITEM_ID", points=..., step=..., timeout=...,
hint=...)``. :func:`read_marker` reads it from a collected item as written;
:func:`check_problems` judges every check and the Validation Checklist against the
rules below and returns every problem, in a stable order. A tutorial run
(:mod:`pytest_tutorial.session`) raises the first as a usage error; ``verify``'s probe
sends them all. Only checks free of problems become :class:`~pytest_tutorial.scoring.CheckSpec`.

The rules: each check is marked; its item is one the document defines; ``points`` is a
whole number >= 0; ``step`` is the number of a step heading; ``timeout`` is a positive
number of seconds; ``hint`` is a string or a list of them. Each Validation Checklist item
is covered by a check or marked manual, and no check covers an item marked manual.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_tutorial.errors import usage_error
from pytest_tutorial.hints import hint_levels
from pytest_tutorial.model import Tutorial
from pytest_tutorial.scoring import CheckSpec

MARKER = "checklist"
"""The marker that ties a check to a checklist item."""


@dataclass(frozen=True)
class MarkedCheck:
    """A collected check and its marker's arguments as written (not yet judged)."""

    nodeid: str
    name: str
    path: Path
    line: int
    marked: bool
    item_id: object = None
    points: object = 1
    step: object = None
    timeout: object = None
    hint: object = None


def read_marker(item: pytest.Item) -> MarkedCheck:
    """What ``item``'s checklist marker says (``marked`` is False without one)."""
    _, line, _ = item.location
    where = (item.nodeid, item.name, item.path, (line or 0) + 1)
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return MarkedCheck(*where, marked=False)
    return MarkedCheck(
        *where,
        marked=True,
        item_id=marker.args[0] if marker.args else marker.kwargs.get("item"),
        points=marker.kwargs.get("points", 1),
        step=marker.kwargs.get("step"),
        timeout=marker.kwargs.get("timeout"),
        hint=marker.kwargs.get("hint"),
    )


class ProblemKind(enum.Enum):
    """Which rule a problem breaks."""

    UNMARKED = "unmarked"
    UNKNOWN_ITEM = "unknown_item"
    BAD_POINTS = "bad_points"
    BAD_STEP = "bad_step"
    BAD_TIMEOUT = "bad_timeout"
    BAD_HINT = "bad_hint"
    UNCOVERED = "uncovered"
    MANUAL_COVERED = "manual_covered"


@dataclass(frozen=True)
class CoverageProblem:
    """One broken rule: what, where, and the fix."""

    kind: ProblemKind
    message: str
    path: Path
    line: int
    fix: str = ""

    def error(self) -> pytest.UsageError:
        """The usage error a tutorial run stops with (``path:line: message`` and the fix)."""
        return usage_error(self.message, path=self.path, line=self.line, fix=self.fix)

    def to_plain(self) -> dict[str, object]:
        """Plain values, for ``verify``'s probe to send."""
        return {
            "kind": self.kind.value,
            "message": self.message,
            "path": str(self.path),
            "line": self.line,
            "fix": self.fix,
        }


def check_problems(checks: Sequence[MarkedCheck], tutorial: Tutorial) -> list[CoverageProblem]:
    """Every problem of the checks' markers, then of the Validation Checklist's coverage."""
    problems = [problem for check in checks for problem in _marker_problems(check, tutorial)]
    covered = {check.item_id for check in checks if check.marked}
    for item in tutorial.validation_items:
        if not item.explicit_manual and item.id not in covered:
            problems.append(
                CoverageProblem(
                    ProblemKind.UNCOVERED,
                    f"Validation Checklist item '{item.id}' ({item.text}) has no check",
                    tutorial.path,
                    item.line,
                    f"add a check marked @pytest.mark.{MARKER}('{item.id}') or mark the item "
                    f"<!-- id: {item.id}, manual -->",
                )
            )
    for check in checks:
        entry = tutorial.item(check.item_id) if isinstance(check.item_id, str) else None
        if check.marked and entry is not None and entry.explicit_manual:
            problems.append(
                CoverageProblem(
                    ProblemKind.MANUAL_COVERED,
                    f"check {check.name} covers '{entry.id}', which the document marks manual",
                    tutorial.path,
                    entry.line,
                    "remove 'manual' from the item or the check from the item",
                )
            )
    return problems


def check_specs(checks: Sequence[MarkedCheck], tutorial: Tutorial) -> dict[str, CheckSpec]:
    """Each check's spec by node id, for checks :func:`check_problems` found no problem in."""
    return {check.nodeid: _spec(check, tutorial) for check in checks}


def _marker_problems(check: MarkedCheck, tutorial: Tutorial) -> list[CoverageProblem]:
    def problem(kind: ProblemKind, message: str, fix: str = "") -> list[CoverageProblem]:
        return [CoverageProblem(kind, f"check {check.name} {message}", check.path, check.line, fix)]

    if not check.marked:
        return problem(
            ProblemKind.UNMARKED,
            "is not tied to a checklist item",
            f"decorate it with @pytest.mark.{MARKER}('ITEM_ID', points=1, hint='...')",
        )
    if not isinstance(check.item_id, str) or tutorial.item(check.item_id) is None:
        known = ", ".join(entry.id for entry in tutorial.validation_items)
        return problem(
            ProblemKind.UNKNOWN_ITEM,
            f"names checklist item {check.item_id!r}, which {tutorial.path.name} does not define",
            f"use one of: {known} (or the id of another checklist item)",
        )
    points = check.points
    if isinstance(points, bool) or not isinstance(points, int) or points < 0:
        return problem(
            ProblemKind.BAD_POINTS,
            f"has points={points!r}, not a whole number >= 0",
            "write points=1 (or another whole number)",
        )
    if check.step is not None and (
        not isinstance(check.step, int) or tutorial.step(check.step) is None
    ):
        return problem(
            ProblemKind.BAD_STEP,
            f"has step={check.step!r}, not a step of the tutorial",
            f"use a number of a '#### Step N:' heading in {tutorial.path.name}",
        )
    if _seconds(check.timeout) is None and check.timeout is not None:
        return problem(
            ProblemKind.BAD_TIMEOUT,
            f"has timeout={check.timeout!r}, not a number of seconds above 0",
            "write timeout=20 (seconds), or leave it out for the tutorial's limit",
        )
    try:
        hint_levels(check.hint)
    except TypeError as error:
        return problem(ProblemKind.BAD_HINT, f"has a bad hint: {error}")
    return []


def _seconds(value: object) -> float | None:
    """A positive, finite number of seconds, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


def _spec(check: MarkedCheck, tutorial: Tutorial) -> CheckSpec:
    """The spec of a check free of problems."""
    assert isinstance(check.item_id, str)
    assert isinstance(check.points, int)
    return CheckSpec(
        nodeid=check.nodeid,
        name=check.name,
        item_id=check.item_id,
        points=check.points,
        step=tutorial.step(check.step) if isinstance(check.step, int) else None,
        location=f"{check.path}:{check.line}",
        timeout_s=_seconds(check.timeout),
        hints=hint_levels(check.hint),
    )
