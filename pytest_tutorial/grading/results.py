"""The parent's view of one child: the events it streamed, how it ended, and the report.

:class:`StreamState` folds the child's events into check results, accepting only what a
well-behaved child sends: results for checks of the trusted list, each after its
``start`` and only once (a second verdict marks the check failed as tampered with).
:func:`final_results` fills in every check that has no verdict, from how the child
ended: the check that was running gets ``timeout`` (wall clock) or ``error`` (crash),
the rest count as failed. The report is then built with the engine's own
:func:`~pytest_tutorial.scoring.score` and :func:`~pytest_tutorial.report.build_report`.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeGuard

from pytest_tutorial import report as report_module
from pytest_tutorial.check_status import DESELECTED, bounded_message
from pytest_tutorial.failures import MESSAGE_LIMIT
from pytest_tutorial.model import Tutorial
from pytest_tutorial.options import SolutionKind
from pytest_tutorial.report_model import GradingBlock, LoadTestEntry, Report
from pytest_tutorial.scoring import CheckResult, CheckSpec, Scorecard, Status, score

from . import stream, untrusted


class OutcomeKind(enum.StrEnum):
    """How grading a submission ended, as the report's ``grading.outcome`` spells it."""

    COMPLETED = "completed"
    """Every selected check reported."""
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    OUTPUT_LIMIT = "output_limit"
    NOT_STARTED = "not_started"
    """The grader could not run the submission: the grader's failure, not the learner's."""
    INVALID = "invalid"
    """The submission could not be unpacked."""


_CHECK_STATUSES = {status.value for status in Status} - {Status.MANUAL.value}
MAX_NOTES = 100


def specs_from_event(event: Mapping[str, Any], tutorial: Tutorial) -> list[CheckSpec]:
    """The checks of the trusted collection's ``collected`` event."""
    return [CheckSpec.from_property(dict(data), tutorial) for data in event.get("checks") or []]


@dataclass
class Outcome:
    """How the child ended."""

    kind: OutcomeKind
    detail: str = ""
    exit_status: int | None = None


@dataclass
class StreamState:
    """Everything accepted from one child's stream."""

    known: frozenset[str]
    hello: bool = False
    done: bool = False
    exit_code: int | None = None
    fatal: str = ""
    collected: list[str] | None = None
    deselected: set[str] = field(default_factory=set)
    started: set[str] = field(default_factory=set)
    running: str | None = None
    results: dict[str, CheckResult] = field(default_factory=dict)
    performance: list[LoadTestEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scratch_free: int | None = None
    """Bytes free in the child's scratch folder, as its last ``done`` or ``fatal`` said."""

    def apply(self, event: Mapping[str, Any]) -> None:
        """Take one decoded event; anything out of protocol is noted and ignored.

        Never raises: whatever is wrong with an event is the child's doing, so it is noted
        and dropped (the events come from :class:`~.stream.StreamDecoder`, already bounded).
        """
        try:
            self._apply(event)
        except Exception as error:  # a malformed event must not reach the grader's logic
            kind = untrusted.string(event.get("event"), 40)
            self.note(f"a malformed {kind} event was ignored ({type(error).__name__})")

    def note(self, text: str) -> None:
        """Keep a note for the report's problems (bounded: a child may send many)."""
        if len(self.notes) < MAX_NOTES:
            self.notes.append(untrusted.text(text, 500))

    def _apply(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        if kind == stream.HELLO:
            self.hello = True
        elif kind == stream.COLLECTED and self.collected is None:
            self.collected = [self._id(n) for n in _strings(event.get("selected"))]
            self.deselected = {self._id(n) for n in _strings(event.get("deselected"))}
        elif kind == stream.START:
            nodeid = self._id(event.get("nodeid"))
            if nodeid in self.known and nodeid in (self.collected or ()):
                self.started.add(nodeid)
                self.running = nodeid
        elif kind == stream.RESULT:
            self._result(event)
        elif kind == stream.DONE:
            self.done = True
            code = event.get("exit_code")
            self.exit_code = code if isinstance(code, int) and not isinstance(code, bool) else None
            self._scratch(event)
        elif kind == stream.FATAL:
            self.fatal = (untrusted.string(event.get("traceback")) or "")[-2000:]
            self._scratch(event)
        elif kind != stream.COLLECTED:
            self.note(f"unexpected event {kind!r} ignored")

    def _scratch(self, event: Mapping[str, Any]) -> None:
        free = untrusted.number(event.get("scratch_free"))
        self.scratch_free = int(free) if free is not None else self.scratch_free

    def _id(self, nodeid: object) -> str:
        return nodeid if isinstance(nodeid, str) else ""

    def missing_verdicts(self) -> list[str]:
        """Checks the child collected and selected that never got a verdict."""
        return [n for n in self.collected or () if n in self.known and n not in self.results]

    def _result(self, event: Mapping[str, Any]) -> None:
        nodeid = self._id(event.get("nodeid"))
        status = event.get("status")
        if (
            nodeid not in self.known
            or nodeid not in self.started
            or not isinstance(status, str)
            or status not in _CHECK_STATUSES
        ):
            self.note(f"a result for {nodeid[:200]} was out of protocol and ignored")
            return
        if self.running == nodeid:
            self.running = None
        if nodeid in self.results:
            self.results[nodeid] = CheckResult(
                Status.FAILED,
                "two verdicts were reported for this check: the result stream was tampered with",
            )
            self.note(f"{nodeid}: two verdicts (tampering), counted as failed")
            return
        message = bounded_message(untrusted.string(event.get("message"), 2 * MESSAGE_LIMIT) or "")
        self.results[nodeid] = CheckResult(
            Status(status), message, untrusted.number(event.get("duration_s")) or 0.0
        )
        load = event.get("load")
        if load is not None:
            if valid_load_entry(load):
                self.performance.append(load)
            else:
                self.note(f"{nodeid}: malformed load-test figures dropped")


def _strings(value: object) -> list[str]:
    """The strings of a list from the child (anything else in it is dropped)."""
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def final_results(
    specs: Sequence[CheckSpec], state: StreamState, outcome: Outcome
) -> dict[str, CheckResult]:
    """A result for every check: streamed, deselected, or inferred from how the child ended."""
    results: dict[str, CheckResult] = {}
    for spec in specs:
        nodeid = spec.nodeid
        if nodeid in state.results:
            results[nodeid] = state.results[nodeid]
        elif nodeid in state.deselected:
            results[nodeid] = DESELECTED
        elif nodeid == state.running and outcome.kind is OutcomeKind.TIMEOUT:
            results[nodeid] = CheckResult(
                Status.TIMEOUT, f"{outcome.detail} while this check was running"
            )
        elif nodeid == state.running:
            results[nodeid] = CheckResult(
                Status.ERROR,
                f"the grading process ended while this check was running: {outcome.detail}",
            )
        else:
            reason = (
                f"{outcome.detail} before this check ran"
                if outcome.kind != OutcomeKind.COMPLETED
                else "the check never reported"
            )
            results[nodeid] = CheckResult(Status.FAILED, f"no verdict: {reason}")
    return results


@functools.cache
def _load_validator() -> Any:
    """A validator of one load-test entry, or None without jsonschema installed."""
    try:
        import jsonschema
    except ImportError:
        return None
    schema = json.loads(report_module.SCHEMA_PATH.read_text(encoding="utf-8"))
    definition = {"$ref": "#/$defs/load_test", "$defs": schema.get("$defs", {})}
    return jsonschema.Draft202012Validator(definition)


def valid_load_entry(entry: object) -> TypeGuard[LoadTestEntry]:
    """Whether load-test figures from the child fit the report schema."""
    if not isinstance(entry, dict):
        return False
    validator = _load_validator()
    if validator is None:
        return all(key in entry for key in ("check", "item", "requests", "concurrency"))
    return bool(validator.is_valid(entry))


def build(
    tutorial: Tutorial,
    specs: Sequence[CheckSpec],
    state: StreamState,
    outcome: Outcome,
    *,
    source: Path,
    started_at: datetime,
    duration_s: float,
    grading: GradingBlock,
) -> tuple[Report, Scorecard]:
    """The submission's report (schema-valid, with a ``grading`` block) and its scorecard."""
    results = final_results(specs, state, outcome)
    run_error = not specs or outcome.kind in (OutcomeKind.NOT_STARTED, OutcomeKind.INVALID)
    card = score(tutorial, specs, results, run_error=run_error)
    problems = []
    if outcome.kind != OutcomeKind.COMPLETED:
        problems.append(f"grading {outcome.kind.replace('_', ' ')}: {outcome.detail}")
    fatal = state.fatal.strip().splitlines()
    if fatal:
        problems.append(f"the grading child failed: {fatal[-1]}")
    problems += state.notes[:20]
    report = report_module.build_report(
        tutorial,
        source,
        SolutionKind.PATH,
        card,
        performance=state.performance,
        problems=problems,
        started_at=started_at,
        duration_s=duration_s,
    )
    report["grading"] = grading
    return report, card
