"""The checklist renderer on reports built by the engine: what each view shows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pytest_tutorial.document import parse_text
from pytest_tutorial.failures import IMPORT_FAILURE
from pytest_tutorial.options import SolutionKind
from pytest_tutorial.report import build_report
from pytest_tutorial.report_model import Report
from pytest_tutorial.scoring import CheckResult, CheckSpec, Status, score
from pytest_tutorial.terminal import CUT_NOTE, UNIMPORTABLE, ChecklistRenderer
from tests.test_document import BODY, FRONT

TUTORIAL = parse_text(FRONT + BODY, Path("demo/tutorial.md"), "demo")


def _report(*results: CheckResult) -> Report:
    specs = [
        CheckSpec(
            f"demo/check_core.py::test_{n}",
            f"test_{n}",
            "core",
            1,
            None,
            "x.py:1",
            None,
            ("nudge", "more"),
        )
        for n in range(len(results))
    ]
    card = score(TUTORIAL, specs, {s.nodeid: r for s, r in zip(specs, results, strict=True)})
    return build_report(
        TUTORIAL,
        Path("exercises/demo"),
        SolutionKind.LEARNER,
        card,
        performance=[],
        problems=[],
        started_at=datetime.now(UTC),
        duration_s=1.0,
    )


def _text(report: Report, renderer: ChecklistRenderer | None = None) -> list[str]:
    return [text for text, _ in (renderer or ChecklistRenderer()).lines(report)]


def test_the_first_failing_check_in_detail_the_others_on_one_line() -> None:
    report = _report(
        CheckResult(Status.FAILED, "first problem"),
        CheckResult(Status.TIMEOUT, "too slow " * 40),
        CheckResult(Status.PASSED),
    )
    lines = _text(report)
    assert any(line.strip() == "test_0: first problem" for line in lines)
    assert any(line.strip() == "hint 1/2: nudge" for line in lines)  # the first level only
    one_liner = next(line for line in lines if "- test_1: TIMEOUT: too slow" in line)
    assert len(one_liner) <= 100
    assert CUT_NOTE in lines
    assert lines[-1].startswith("verdict: NOT VALIDATED  score 1/3")
    assert any(line.startswith("To judge yourself") for line in lines)
    verbose = _text(report, ChecklistRenderer(verbose=True))
    assert any(line.strip().startswith("test_1: TIMEOUT: too slow") for line in verbose)
    assert CUT_NOTE not in verbose


def test_an_import_failure_is_said_once_then_pointed_at() -> None:
    failure = CheckResult(Status.ERROR, f"{IMPORT_FAILURE}demo.py:1: SyntaxError: bad")
    report = _report(failure, failure)
    lines = _text(report)
    assert sum("SyntaxError" in line for line in lines) == 1
    above = _text(report, ChecklistRenderer(import_failure_above=True))
    assert not any("SyntaxError" in line for line in above)
    assert any(UNIMPORTABLE in line for line in above)


def test_watch_marks_new_passes_and_adds_notes_without_the_manual_summary() -> None:
    report = _report(CheckResult(Status.PASSED))
    renderer = ChecklistRenderer(
        manual_summary=False,
        newly_passed=frozenset({"core"}),
        item_notes={"core": "first passed 10:02"},
    )
    lines = _text(report, renderer)
    core = next(line for line in lines if " core " in line)
    assert core.split()[0] == "NEW"
    assert core.endswith("first passed 10:02")
    assert not any(line.startswith("To judge yourself") for line in lines)
