"""Turn check results into checklist results, a score and a verdict.

An item's points are the points of its passed checks. Its status is judged on the checks
that ran: ``passed`` when every one of them passed, ``skipped`` when none ran (deselected
with ``-k``, or skipped), else the first of ``timeout``, ``error``, ``failed`` that one of
them has (the most specific reason first). A check that did not run never fails an item.
Items no check covers are ``manual``.

The verdict is ``validated`` exactly when every automated item passed with every check
run; ``incomplete`` when nothing that ran failed but some checks did not run (a ``-k``
selection); ``not_validated`` when a check failed; ``error`` when the run could not check
anything.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_tutorial.model import ChecklistItem, Step, Tutorial


class Status(enum.Enum):
    """The status of a check or a checklist item, as the report spells it."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"
    MANUAL = "manual"
    SKIPPED = "skipped"


class Verdict(enum.Enum):
    """The outcome of a whole run."""

    VALIDATED = "validated"
    INCOMPLETE = "incomplete"
    NOT_VALIDATED = "not_validated"
    ERROR = "error"

    @property
    def succeeded(self) -> bool:
        """Whether the run exits 0: everything that ran passed."""
        return self in (Verdict.VALIDATED, Verdict.INCOMPLETE)


@dataclass(frozen=True)
class CheckSpec:
    """A collected check and what its ``checklist`` marker says about it."""

    nodeid: str
    name: str
    item_id: str
    points: int
    step: Step | None
    location: str
    timeout_s: float | None = None
    hints: tuple[str, ...] = ()
    """Every level of the marker's hint, from a nudge to more detail."""

    @property
    def hint(self) -> str:
        """The first level of the hint (the nudge), or ``""`` when the check has none."""
        return self.hints[0] if self.hints else ""

    def to_property(self) -> dict[str, Any]:
        """Plain values that travel with a test report (to the xdist controller)."""
        return {
            "nodeid": self.nodeid,
            "name": self.name,
            "item_id": self.item_id,
            "points": self.points,
            "step": self.step.number if self.step else None,
            "location": self.location,
            "timeout_s": self.timeout_s,
            "hints": list(self.hints),
        }

    @classmethod
    def from_property(cls, data: dict[str, Any], tutorial: Tutorial) -> CheckSpec:
        """Rebuild a spec from :meth:`to_property`'s values."""
        step = tutorial.step(data["step"]) if data.get("step") is not None else None
        return cls(
            nodeid=data["nodeid"],
            name=data["name"],
            item_id=data["item_id"],
            points=data["points"],
            step=step,
            location=data["location"],
            timeout_s=data["timeout_s"],
            hints=tuple(data.get("hints", ())),
        )


@dataclass(frozen=True)
class CheckResult:
    """How a check ended."""

    status: Status
    message: str = ""
    duration_s: float = 0.0
    counterexample: str = ""
    """hypothesis' shrunk falsifying example, when a property check failed."""
    hint: str | None = None
    """The hint levels to show (decided at the end of the run); None: the first level."""
    hint_level: int = 0
    reproduce: str = ""
    """The command that reruns just this check."""


@dataclass(frozen=True)
class ItemResult:
    """One checklist item's outcome and the checks behind it."""

    item: ChecklistItem
    automated: bool
    status: Status
    points: int
    max_points: int
    checks: tuple[tuple[CheckSpec, CheckResult], ...]

    def problems(self) -> list[tuple[CheckSpec, CheckResult]]:
        """The checks that ran and did not pass, in collection order."""
        return [(spec, r) for spec, r in self.checks if r.status not in _NOT_A_PROBLEM]

    def first_problem(self) -> tuple[CheckSpec, CheckResult] | None:
        """The first check that ran and did not pass, or None."""
        problems = self.problems()
        return problems[0] if problems else None

    @property
    def not_run(self) -> int:
        """How many of the item's checks did not run (deselected or skipped)."""
        return sum(1 for _, result in self.checks if result.status is Status.SKIPPED)


@dataclass(frozen=True)
class Scorecard:
    """Every item's result, the score and the verdict."""

    items: tuple[ItemResult, ...]
    verdict: Verdict
    points: int
    max_points: int


_PRECEDENCE = (Status.TIMEOUT, Status.ERROR, Status.FAILED)
_NOT_A_PROBLEM = (Status.PASSED, Status.SKIPPED)
NO_VERDICT = CheckResult(Status.FAILED, "no verdict: the run ended before this check reported")


def item_status(results: Sequence[CheckResult]) -> Status:
    """Combine the statuses of an item's checks (see the module docstring)."""
    statuses = {result.status for result in results} - {Status.SKIPPED}
    if not statuses:
        return Status.SKIPPED
    if statuses == {Status.PASSED}:
        return Status.PASSED
    return next((status for status in _PRECEDENCE if status in statuses), Status.FAILED)


def score(
    tutorial: Tutorial,
    specs: Sequence[CheckSpec],
    results: Mapping[str, CheckResult],
    *,
    run_error: bool = False,
) -> Scorecard:
    """Score a run. ``run_error``: the run could not check anything (e.g. collection failed)."""
    by_item: dict[str, list[CheckSpec]] = {}
    for spec in specs:
        by_item.setdefault(spec.item_id, []).append(spec)
    items: list[ItemResult] = []
    for item in tutorial.checklist:
        covered = by_item.get(item.id, [])
        if not covered:
            items.append(ItemResult(item, False, Status.MANUAL, 0, 0, ()))
            continue
        pairs = tuple((spec, results.get(spec.nodeid, NO_VERDICT)) for spec in covered)
        items.append(
            ItemResult(
                item=item,
                automated=True,
                status=item_status([result for _, result in pairs]),
                points=sum(spec.points for spec, r in pairs if r.status is Status.PASSED),
                max_points=sum(spec.points for spec in covered),
                checks=pairs,
            )
        )
    automated = [result for result in items if result.automated]
    if run_error or not automated:
        verdict = Verdict.ERROR
    elif any(result.status not in _NOT_A_PROBLEM for result in automated):
        verdict = Verdict.NOT_VALIDATED
    elif any(result.not_run for result in automated):
        verdict = Verdict.INCOMPLETE
    else:
        verdict = Verdict.VALIDATED
    return Scorecard(
        items=tuple(items),
        verdict=verdict,
        points=sum(result.points for result in items),
        max_points=sum(result.max_points for result in items),
    )
