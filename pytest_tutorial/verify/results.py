"""What ``pytest-tutorial verify`` found: one result per step of each tutorial.

The terminal output and the JSON (``--json``) are two views of these objects.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from pytest_tutorial.verify.mutation import Mutant

JSON_VERSION = "1"


class Outcome(enum.Enum):
    """How a step ended."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Finding:
    """One thing to fix (or, for surviving mutants, to look at): where, what, how."""

    message: str
    path: str | None = None
    line: int | None = None
    fix: str = ""

    def where(self) -> str:
        """``path:line: `` (or ``path: ``), or nothing."""
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "

    def to_json(self) -> dict[str, Any]:
        """Plain values for the JSON output."""
        return {"message": self.message, "path": self.path, "line": self.line, "fix": self.fix}


@dataclass(frozen=True)
class StepResult:
    """One step of verifying a tutorial (document, placeholders, coverage, ...)."""

    name: str
    outcome: Outcome
    summary: str
    findings: tuple[Finding, ...] = ()
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Plain values for the JSON output."""
        return {
            "name": self.name,
            "outcome": self.outcome.value,
            "summary": self.summary,
            "findings": [finding.to_json() for finding in self.findings],
            "duration_s": round(self.duration_s, 3),
        }


class MutantStatus(enum.Enum):
    """What the checks did with one mutant."""

    KILLED = "killed"
    """The run was not validated: some check failed."""
    TIMEOUT = "timeout"
    """The run passed its time limit and was stopped (counts as killed)."""
    SURVIVED = "survived"
    """Every check passed: no check looks at what the mutant changed."""


@dataclass(frozen=True)
class MutantResult:
    """One mutant and how its run ended."""

    mutant: Mutant
    status: MutantStatus
    killed_by: str = ""
    """The first check that failed (``check_core.py::test_x``), or why the run ended."""
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Plain values for the JSON output."""
        return {
            **self.mutant.to_json(),
            "status": self.status.value,
            "killed_by": self.killed_by,
            "duration_s": round(self.duration_s, 3),
        }


@dataclass(frozen=True)
class MutationSummary:
    """The mutation analysis of a reference solution."""

    total: int
    """Mutants the reference has."""
    results: tuple[MutantResult, ...]
    """The mutants run (all of them, or the ``--max-mutants`` sample)."""
    min_kill_rate: float | None
    own_tests_run: bool
    jobs: int
    duration_s: float

    @property
    def killed(self) -> int:
        """Mutants killed, time-outs included."""
        return sum(result.status is not MutantStatus.SURVIVED for result in self.results)

    @property
    def survivors(self) -> tuple[MutantResult, ...]:
        """The mutants no check noticed."""
        return tuple(r for r in self.results if r.status is MutantStatus.SURVIVED)

    @property
    def kill_rate(self) -> float | None:
        """Killed / run, or None when no mutant ran."""
        return self.killed / len(self.results) if self.results else None

    @property
    def meets_minimum(self) -> bool:
        """Whether the kill rate reaches the tutorial's ``min_kill_rate`` (if it sets one)."""
        rate = self.kill_rate
        return self.min_kill_rate is None or (rate is not None and rate >= self.min_kill_rate)

    def to_json(self) -> dict[str, Any]:
        """Plain values for the JSON output."""
        rate = self.kill_rate
        return {
            "total_mutants": self.total,
            "run": len(self.results),
            "sampled": len(self.results) < self.total,
            "killed": self.killed,
            "timeouts": sum(r.status is MutantStatus.TIMEOUT for r in self.results),
            "survived": len(self.survivors),
            "kill_rate": None if rate is None else round(rate, 4),
            "min_kill_rate": self.min_kill_rate,
            "own_tests_run": self.own_tests_run,
            "jobs": self.jobs,
            "duration_s": round(self.duration_s, 3),
            "mutants": [result.to_json() for result in self.results],
        }


@dataclass
class TutorialVerification:
    """Every step's result for one tutorial."""

    id: str
    document: str
    title: str = ""
    steps: list[StepResult] = field(default_factory=list)
    mutation: MutationSummary | None = None

    @property
    def passed(self) -> bool:
        """True when no step failed."""
        return all(step.outcome is not Outcome.FAILED for step in self.steps)

    @property
    def failed_steps(self) -> list[str]:
        """The names of the steps that failed, in order."""
        return [step.name for step in self.steps if step.outcome is Outcome.FAILED]

    def to_json(self) -> dict[str, Any]:
        """Plain values for the JSON output."""
        return {
            "id": self.id,
            "title": self.title,
            "document": self.document,
            "passed": self.passed,
            "steps": [step.to_json() for step in self.steps],
            "mutation": None if self.mutation is None else self.mutation.to_json(),
        }


def verification_json(results: list[TutorialVerification], duration_s: float) -> dict[str, Any]:
    """The whole ``--json`` document."""
    return {
        "version": JSON_VERSION,
        "passed": all(result.passed for result in results),
        "duration_s": round(duration_s, 3),
        "tutorials": [result.to_json() for result in results],
    }
