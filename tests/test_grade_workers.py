"""``grade --isolation worker``: the submission's code runs apart from the checks.

The forging cases of the adversarial corpus, which score full marks when the submission
shares the grading child's process (pinned in tests/test_grade_corpus.py), earn nothing
here: the checks, the streamer and its token are in a process the submission's code
cannot reach (another uid as root, inside the same sandbox), and what the worker answers
is only ever the learner's answer to a check's call.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.grading import batch, sandbox
from tests.adversarial.cases import CASES, REPO, Case
from tests.conftest import validate_report

pytestmark = pytest.mark.slow

FORGING = (
    "patches_the_checks",
    "patches_reporting",
    "wraps_the_streamer",
    "forces_verdicts",
    "fake_report",
    "equal_to_everything",
)
"""Cases that forge verdicts from inside the submission's process (all from the starter)."""
BY_NAME = {case.name: case for case in CASES}
LIMITS = sandbox.Limits(wall_s=120, cpu_s=120, memory_mb=2048, processes=128)


def _grade(folder: Path, cases: list[Case], **options: Any) -> dict[str, dict[str, Any]]:
    out = folder / "out"
    values = {"port": "9", "out": str(out), "repo": str(REPO)}
    paths = tuple(case.build(folder / "cases", values) for case in cases)
    done = batch.run(
        batch.Options(
            tutorial="caching",
            out=out,
            submissions=paths,
            jobs=2,
            limits=LIMITS,
            isolation="worker",
            run_id=f"workers{os.getpid()}",
            **options,
        )
    )
    assert not done.infrastructure_failures
    reports = {}
    for row in done.book.rows:
        report = json.loads((out / row["report"]).read_text(encoding="utf-8"))
        validate_report(report)
        reports[row["submission"]] = report
    return reports


def test_the_reference_gets_full_marks_and_the_starter_none(tmp_path: Path) -> None:
    reports = _grade(
        tmp_path,
        [Case("reference", base="reference_solutions"), Case("starter")],
    )
    reference, starter = reports["reference"], reports["starter"]
    assert reference["grading"]["isolation"] == "worker"
    assert reference["grading"]["outcome"] == "completed", reference["grading"]
    assert reference["score"]["points"] == reference["score"]["max_points"] > 0
    assert starter["grading"]["outcome"] == "completed"
    assert starter["score"]["points"] == 0


def test_forging_from_the_submissions_process_earns_nothing(tmp_path: Path) -> None:
    reports = _grade(tmp_path, [BY_NAME[name] for name in FORGING], keyword="not own_tests")
    for name in FORGING:
        report = reports[name]
        assert report["grading"]["isolation"] == "worker"
        assert report["grading"]["outcome"] == "completed", (name, report["grading"])
        assert report["score"]["points"] == 0, (name, report["score"])
