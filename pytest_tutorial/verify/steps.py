"""The steps of verifying one tutorial, except mutation analysis (:mod:`.analysis`).

1. the document parses (front matter, phases, checklists) and is automated;
2. nothing of the template is left in it;
3. every Validation Checklist item is covered by a check or marked manual, every check
   names a real item, and no check is still the scaffold's "not written yet" stub;
4. the reference solution is validated;
5. the starter code fails every automated item.
"""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.document import parse_tutorial
from pytest_tutorial.model import Tutorial, ValidationMethod
from pytest_tutorial.options import LEARNER_ROOT, REFERENCE_ROOT
from pytest_tutorial.report_model import ItemEntry, Report
from pytest_tutorial.scaffold import NOT_WRITTEN
from pytest_tutorial.verify import runs
from pytest_tutorial.verify.placeholders import find_placeholders
from pytest_tutorial.verify.results import Finding, Outcome, StepResult

LEARNER_TESTS_FIXTURE = "learner_tests"
"""Checks using this fixture run the solution's own tests in subprocesses: the slow ones."""
_ERROR_LOCATION = re.compile(r"^(?:ERROR: )?(.+?):(\d+): (.*)$")


@dataclass
class Target:
    """One tutorial to verify and how to run pytest on it."""

    name: str
    directory: Path
    rootdir: Path
    """The course folder pytest uses (reference_solutions/ and exercises/ are under it)."""
    cwd: Path
    """Where the child pytest runs start (the ini file is found from here)."""
    extra_args: tuple[str, ...] = ()
    """E.g. ``-o tutorial_paths=...`` for a tutorial given by its folder."""
    run_timeout_s: float = 900.0
    checks: list[dict[str, Any]] = field(default_factory=list)
    """What the probe collected (filled by :func:`coverage_step`)."""

    @property
    def document(self) -> Path:
        """The tutorial's document."""
        return self.directory / "tutorial.md"

    @property
    def reference(self) -> Path:
        """The reference solution's folder."""
        return self.rootdir / REFERENCE_ROOT / self.name

    @property
    def starter(self) -> Path:
        """The starter code's folder."""
        return self.rootdir / LEARNER_ROOT / self.name

    def base_args(self) -> list[str]:
        """The options every tutorial run of this target starts with."""
        return [
            f"--tutorial={self.name}",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            *self.extra_args,
        ]

    def check_location(self, nodeid: str) -> tuple[str | None, int | None]:
        """The file and line of a collected check, for findings."""
        for check in self.checks:
            if check["nodeid"] == nodeid:
                return str(check["path"]), int(check["line"])
        return None, None

    def slow_checks(self) -> list[str]:
        """Node ids of the checks that run the solution's own tests."""
        return [c["nodeid"] for c in self.checks if LEARNER_TESTS_FIXTURE in c.get("fixtures", ())]


def finding_from_error(text: str) -> Finding:
    """A usage error's text (``path:line: message`` and ``fix: ...``) as a finding."""
    lines = text.strip().splitlines() or [""]
    fix = next((line.strip()[5:] for line in lines[1:] if line.strip().startswith("fix: ")), "")
    match = _ERROR_LOCATION.match(lines[0])
    if match:
        return Finding(match.group(3), path=match.group(1), line=int(match.group(2)), fix=fix)
    return Finding(lines[0].removeprefix("ERROR: "), fix=fix)


def document_step(target: Target) -> tuple[StepResult, Tutorial | None]:
    """Parse the document; the tutorial, or None when it cannot be verified further."""
    started = time.perf_counter()
    try:
        tutorial = parse_tutorial(target.document, target.name)
    except pytest.UsageError as error:
        finding = finding_from_error(str(error))
        return _step("document", [finding], "does not parse", started), None
    method = tutorial.metadata.validation_method
    if method is not ValidationMethod.AUTOMATED:
        summary = f"well-formed; validation_method is '{method.value}': no checks to verify"
        return StepResult("document", Outcome.PASSED, summary, (), _since(started)), None
    if not tutorial.validation_items:
        finding = Finding(
            "the document has no Validation Checklist items",
            path=str(target.document),
            fix="keep the template's '### Validation Checklist' with its six '- [ ]' items",
        )
        return _step("document", [finding], "no Validation Checklist", started), None
    items = len(tutorial.checklist)
    summary = f"well-formed: {len(tutorial.phases)} phases, {items} checklist items"
    rule = _performance_rule_finding(target, tutorial)
    if rule is not None:
        return _step("document", [rule], "does not state its performance rule", started), tutorial
    return StepResult("document", Outcome.PASSED, summary, (), _since(started)), tutorial


def _performance_rule_finding(target: Target, tutorial: Tutorial) -> Finding | None:
    """The learner must read the rule the performance check applies, word for word."""
    from pytest_tutorial.performance import rule_sentence, states_the_rule

    assert tutorial.validation is not None
    performance = tutorial.validation.performance
    if performance.p95_ms is None and performance.relative_p95 is None:
        return None
    if states_the_rule(target.document.read_text(encoding="utf-8"), performance):
        return None
    return Finding(
        "the text does not state the performance rule the checks apply",
        path=str(target.document),
        line=tutorial.front_matter_lines.get("validation"),
        fix=f"write this sentence where the tutorial sets its p95 target: "
        f"{rule_sentence(performance)!r}",
    )


def placeholder_step(target: Target) -> StepResult:
    """Report every leftover of the template with its line."""
    started = time.perf_counter()
    text = target.document.read_text(encoding="utf-8")
    found = find_placeholders(text)
    by_line: dict[int, list[str]] = {}
    for placeholder in found:
        by_line.setdefault(placeholder.line, []).append(placeholder.text)
    findings = [
        Finding(
            ", ".join(texts),
            path=str(target.document),
            line=line,
            fix="replace it with the tutorial's own content",
        )
        for line, texts in by_line.items()
    ]
    if not findings:
        return StepResult("placeholders", Outcome.PASSED, "none left", (), _since(started))
    summary = f"{len(found)} left of the template on {len(by_line)} lines"
    return _step("placeholders", findings, summary, started)


def coverage_step(target: Target, tutorial: Tutorial) -> tuple[StepResult, bool]:
    """Collect the checks; the step and whether a tutorial run is possible at all."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pytest-tutorial-empty-") as empty:
        # an empty solution: collection imports nothing of it and starts no background run
        answer, run = runs.probe(
            [*target.base_args(), "--collect-only", f"--tutorial-solution={empty}"],
            cwd=target.cwd,
            timeout_s=target.run_timeout_s,
        )
    if "checks" not in answer:
        finding = finding_from_error(run.error_text())
        return _step("coverage", [finding], "the checks cannot be collected", started), False
    target.checks = list(answer["checks"])
    blocking = [finding_from_error(problem) for problem in answer.get("problems", [])]
    blocking += [
        Finding(problem["message"], path=problem["path"], line=problem["line"], fix=problem["fix"])
        for problem in answer.get("coverage", [])
    ]
    not_written = [
        Finding(
            f"check {check['name']} of item '{check['item']}' is not written yet",
            path=check["path"],
            line=check["line"],
            fix="replace not_written_yet(...) with a check of the solution's behaviour",
        )
        for check in target.checks
        if check.get("not_written")
    ]
    covered = {check["item"] for check in target.checks if check.get("item")}
    manual = [item for item in tutorial.validation_items if item.explicit_manual]
    automated = [item for item in tutorial.validation_items if item.id in covered]
    checks = sum(1 for check in target.checks if check.get("item") in {i.id for i in automated})
    summary = (
        f"{len(tutorial.validation_items)} Validation Checklist items: "
        f"{len(automated)} automated by {checks} checks, {len(manual)} manual"
    )
    if not_written:
        summary += f"; {len(not_written)} checks not written yet"
    findings = blocking + not_written
    if findings:
        return _step("coverage", findings, summary, started), not blocking
    return StepResult("coverage", Outcome.PASSED, summary, (), _since(started)), True


def solution_run(target: Target, solution: Path, label: str) -> runs.ChildRun:
    """A full run of the tutorial's checks against ``solution`` (report in a temp folder)."""
    with tempfile.TemporaryDirectory(prefix=f"pytest-tutorial-{label}-") as folder:
        return runs.run_pytest(
            [*target.base_args(), f"--tutorial-solution={solution}"],
            cwd=target.cwd,
            timeout_s=target.run_timeout_s,
            report=Path(folder) / "report.json",
        )


def reference_step(target: Target, run: runs.ChildRun | None) -> StepResult:
    """The reference must be validated; ``run`` is None when it does not exist."""
    if run is None:
        finding = Finding(
            f"there is no reference solution at {target.reference}",
            fix="put the instructor's complete solution there",
        )
        return StepResult("reference", Outcome.FAILED, "missing", (finding,))
    report = run.report
    if report is None:
        finding = finding_from_error(_why_no_report(run))
        summary = f"no verdict for {_shown(target.reference)}"
        return StepResult("reference", Outcome.FAILED, summary, (finding,), run.duration_s)
    score = report["score"]
    summary = (
        f"{_shown(target.reference)} {report['verdict'].replace('_', ' ')}, "
        f"{score['points']}/{score['max_points']} points"
    )
    if report["verdict"] == "validated":
        return StepResult("reference", Outcome.PASSED, summary, (), run.duration_s)
    findings = [
        _item_finding(target, item) for item in _automated(report) if item["status"] != "passed"
    ]
    findings += [finding_from_error(problem) for problem in report.get("problems", [])]
    return StepResult("reference", Outcome.FAILED, summary, tuple(findings), run.duration_s)


def starter_step(target: Target, run: runs.ChildRun | None) -> StepResult:
    """The starter must fail every automated item."""
    if run is None:
        finding = Finding(
            f"there is no starter code at {target.starter}",
            fix="add the stubs the learner starts from (each raising NotImplementedError)",
        )
        return StepResult("starter", Outcome.FAILED, "missing", (finding,))
    report = run.report
    if report is None or report["verdict"] == "error":
        why = _why_no_report(run) if report is None else "; ".join(report.get("problems", []))
        finding = finding_from_error(why or "the run could not check anything")
        summary = f"no verdict for {_shown(target.starter)}"
        return StepResult("starter", Outcome.FAILED, summary, (finding,), run.duration_s)
    items = _automated(report)
    passing = [item for item in items if item["status"] == "passed"]
    score = report["score"]
    folder = _shown(target.starter)
    if not passing:
        points = f"{score['points']}/{score['max_points']} points"
        summary = f"{folder} fails all {len(items)} automated items ({points})"
        return StepResult("starter", Outcome.PASSED, summary, (), run.duration_s)
    findings = []
    for item in passing:
        path, line = target.check_location(item["checks"][0]["id"])
        names = ", ".join(check["name"] for check in item["checks"])
        findings.append(
            Finding(
                f"item '{item['id']}' passes on the starter code ({names})",
                path=path,
                line=line,
                fix="make its checks need the real implementation, or fix the starter stubs",
            )
        )
    summary = f"{len(passing)} of {len(items)} automated items pass on the starter in {folder}"
    return StepResult("starter", Outcome.FAILED, summary, tuple(findings), run.duration_s)


def _shown(folder: Path) -> str:
    """A folder as the author would type it: relative to the working directory when inside."""
    try:
        return folder.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(folder)


def _automated(report: Report) -> list[ItemEntry]:
    return [item for item in report["checklist"] if item["automated"]]


def _item_finding(target: Target, item: ItemEntry) -> Finding:
    check = next((c for c in item["checks"] if c["status"] != "passed"), item["checks"][0])
    path, line = target.check_location(check["id"])
    message = str(check.get("message") or "").strip().splitlines()
    first = message[0] if message else "(no message)"
    name = check["name"]
    if NOT_WRITTEN in first:
        return Finding(f"item '{item['id']}' failed: {name} is not written yet", path, line)
    return Finding(
        f"item '{item['id']}' {item['status']}: {name}: {first[:300]}",
        path=path,
        line=line,
        fix=str(check.get("hint") or ""),
    )


def _why_no_report(run: runs.ChildRun) -> str:
    if run.timed_out:
        return f"the run did not finish within {run.duration_s:.0f} s"
    return f"the run wrote no report (exit status {run.exit_code}):\n{run.error_text()}"


def _step(name: str, findings: list[Finding], summary: str, started: float) -> StepResult:
    return StepResult(name, Outcome.FAILED, summary, tuple(findings), _since(started))


def _since(started: float) -> float:
    return time.perf_counter() - started
