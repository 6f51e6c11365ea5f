"""``grade``'s default, ``--isolation worker``: the submission's code runs apart from the checks.

The checks, the streamer and its token are in a process the submission's code cannot reach
(another uid as root, inside the same sandbox), and what the worker answers is only ever
the learner's answer to a check's call. The forging cases of the adversarial corpus score
0 in this mode (tests/test_grade_corpus.py grades the corpus in both modes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.grading import batch, sandbox
from tests.adversarial.cases import REPO, Case
from tests.conftest import validate_report

pytestmark = pytest.mark.slow

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


def test_performance_is_judged_against_the_reference_in_a_worker_of_its_own(
    tmp_path: Path,
) -> None:
    """The relative target works in grading: the grader hands the child the reference,
    which runs in its own worker (the child's user, out of the submission's reach)."""
    reports = _grade(tmp_path, [Case("reference", base="reference_solutions")], keyword="p95")
    performance = reports["reference"]["performance"]
    assert performance
    for entry in performance:
        assert entry["reference_p95_ms"] is not None, entry
        assert entry["decided_by"] in ("relative", "floor"), entry
        assert entry["passed"], entry


def test_with_the_checks_in_the_submissions_process_the_absolute_target_decides(
    tmp_path: Path,
) -> None:
    """``--isolation process`` gets no reference: it would run in the submission's process."""
    reports = _grade(
        tmp_path,
        [Case("reference", base="reference_solutions")],
        keyword="p95",
        isolation="process",
    )
    for entry in reports["reference"]["performance"]:
        assert entry["reference_p95_ms"] is None, entry
        assert entry["decided_by"] in ("absolute", "floor", "ceiling"), entry


def test_the_child_runs_the_learners_tests_against_the_bugs_the_batch_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bug modules are built once by the parent and fed to every child, which uses them.

    Fed a control that cannot be imported, the child reports it, so it built none itself.
    """
    box = sandbox.detect(sandbox.Mode.AUTO, 1, [])
    box.release()
    if not box.isolated:
        pytest.skip("the checks and bugs are fed to a child in bubblewrap")
    built = batch.built_bugs

    def broken_control(*args: Any) -> dict[str, bytes]:
        files = built(*args)
        assert files, "the caching tutorial has bug modules"
        fed = {}
        for name, content in files.items():
            data = json.loads(content)
            assert data["bugs"][0]["kind"] == "control"
            data["bugs"][0]["source"] = "raise ImportError('the fed control')\n"
            fed[name] = json.dumps(data).encode()
        return fed

    monkeypatch.setattr(batch, "built_bugs", broken_control)
    reports = _grade(
        tmp_path, [Case("reference", base="reference_solutions")], keyword="own_tests_catch"
    )
    assert "the fed control" in json.dumps(reports["reference"]["checklist"])
