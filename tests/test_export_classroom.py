"""``pytest-tutorial export github-classroom``: the starter repository and its workflow.

The workflow is checked offline against the GitHub workflow schema that check-jsonschema
ships (``--builtin-schema vendor.github-workflows``), and its grading step is run as the
runner would run it, in the exported repository, with ``sudo`` standing in for itself
(the tests run as root or grade without it); the points are summed the way GitHub
Classroom's autograding reporter sums them.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_tutorial.cli import main
from pytest_tutorial.export import classroom_report
from pytest_tutorial.export.classroom import CHECK_RUN_NAME, STEP_ID, SUPPORT, WORKFLOW
from pytest_tutorial.report_model import CheckEntry, ItemEntry, Report, StatusName
from tests.conftest import REPO


def export(tmp_path: Path, *options: str) -> Path:
    """Export caching's starter repository into ``tmp_path/repo``."""
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        status = main(["export", "github-classroom", "caching", "--out", "repo", *options])
    finally:
        os.chdir(cwd)
    assert status == 0
    return tmp_path / "repo"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export(tmp_path_factory.mktemp("classroom"), "--package", "index")


def workflow(repo: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((repo / WORKFLOW).read_text(encoding="utf-8"))
    return data


def test_the_repository_is_the_starter_plus_the_workflow(repo: Path) -> None:
    starter = {
        p.relative_to(REPO / "exercises" / "caching").as_posix()
        for p in (REPO / "exercises" / "caching").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    files = {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()}
    assert starter <= files
    assert {"TUTORIAL.md", "pytest.ini", WORKFLOW.as_posix()} <= files
    assert (repo / SUPPORT / "constraints.txt").is_file()
    assert not any(name.startswith(f"{SUPPORT.as_posix()}/wheels") for name in files)


def test_the_workflow_validates_against_the_github_workflow_schema(repo: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(repo / WORKFLOW),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_catches_a_broken_workflow(repo: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        (repo / WORKFLOW).read_text(encoding="utf-8").replace("runs-on:", "run-on:"),
        encoding="utf-8",
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(broken),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1


def test_the_workflow_reports_the_way_classroom_reads_points(repo: Path) -> None:
    data = workflow(repo)
    assert set(data["on"]) >= {"push"}
    assert data["permissions"]["checks"] == "write"
    (job,) = data["jobs"].values()
    assert job["name"] == data["name"] == CHECK_RUN_NAME  # the reporter's check run
    steps = {step.get("id"): step for step in job["steps"]}
    grading = steps[STEP_ID]
    assert "pytest_tutorial grade --tutorial caching" in grading["run"]
    reporter = job["steps"][-1]
    assert reporter["uses"].startswith("classroom-resources/autograding-grading-reporter@")
    runners = reporter["with"]["runners"].split(",")
    for runner in runners:  # the reporter reads <RUNNER>_RESULTS
        variable = f"{runner.strip().upper()}_RESULTS"
        assert reporter["env"][variable] == f"${{{{ steps.{runner}.outputs.result }}}}"
    install = next(step for step in job["steps"] if "pip install" in step.get("run", ""))
    assert '"pytest-tutorial==0.1.0"' in install["run"]


def test_a_folder_with_files_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "keep.txt").write_text("mine", encoding="utf-8")
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        assert main(["export", "github-classroom", "caching", "--out", "repo"]) == 2
    finally:
        os.chdir(cwd)
    assert "not an empty folder" in capsys.readouterr().out
    assert [p.name for p in (tmp_path / "repo").iterdir()] == ["keep.txt"]


def _report(points: int, max_points: int) -> Report:
    check: CheckEntry = {
        "id": "caching/check_errors.py::test_x",
        "name": "test_x",
        "status": "failed",
        "message": "expected 2, got 1\nmore",
        "hint": "call compute() once",
        "hint_level": 1,
        "hint_levels": 1,
        "counterexample": "",
        "reproduce": "",
        "step": "Step 2",
        "points": 3,
        "duration_s": 0.1,
    }

    def item(ident: str, text: str, status: StatusName, got: int, of: int) -> ItemEntry:
        checks = [check] if status == "failed" else []
        automated = status != "manual"
        return {
            "id": ident,
            "text": text,
            "section": "Validation Checklist" if automated else "Knowledge Check",
            "automated": automated,
            "status": status,
            "points": got,
            "max_points": of,
            "checks": checks,
        }

    return {
        "schema_version": "1.1",
        "tutorial": {
            "id": "caching",
            "title": "Caching",
            "version": "1",
            "validation_method": "automated",
        },
        "solution": {"path": "/submission", "kind": "path"},
        "verdict": "not_validated",
        "score": {"points": points, "max_points": max_points},
        "checklist": [
            item("core", "Core | works", "passed", 2, 2),
            item("errors", "Errors", "failed", points - 2, 3),
            item("talk", "Explain it", "manual", 0, 0),
        ],
        "performance": [],
        "duration_s": 1.0,
        "versions": {},
        "grading": {
            "submission": "repo",
            "source": "/submission",
            "sandbox": "bubblewrap",
            "outcome": "timeout",
            "detail": "the 5 s wall-clock limit ran out",
            "duration_s": 5.0,
        },
    }


def test_the_report_step_writes_the_summary_and_the_reporters_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "grades" / "submissions" / "repo"
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps(_report(3, 5)), encoding="utf-8")
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert classroom_report.main([str(tmp_path / "grades")]) == 0
    assert "Points 3/5" in capsys.readouterr().out
    result = decode_result(output.read_text(encoding="utf-8"))
    assert result["max_score"] == 5
    assert result["status"] == "fail"
    assert [test["score"] for test in result["tests"]] == [2, 1]
    assert [test["status"] for test in result["tests"]] == ["pass", "fail"]
    assert "expected 2, got 1 · hint: call compute() once" in result["tests"][1]["message"]
    text = summary.read_text(encoding="utf-8")
    assert "Caching: 3/5 points" in text
    assert "Core \\| works" in text
    assert "**Grading timeout:**" in text
    assert "1 checklist item(s) are for you" in text


def test_no_report_is_an_error_with_no_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert classroom_report.main([str(tmp_path / "nothing")]) == 0
    result = decode_result(output.read_text(encoding="utf-8"))
    assert result["status"] == "error"
    assert result["tests"][0]["score"] == 0
    assert classroom_report.main([]) == 2


def decode_result(github_output: str) -> dict[str, Any]:
    """The ``result`` output, decoded as the reporter decodes ``<RUNNER>_RESULTS``."""
    line = next(line for line in github_output.splitlines() if line.startswith("result="))
    data: dict[str, Any] = json.loads(base64.b64decode(line.removeprefix("result=")))
    return data


def run_grading_step(repo: Path, tmp_path: Path) -> tuple[dict[str, Any], str]:
    """Run the workflow's grading step in ``repo``; the reporter's input and the summary."""
    (job,) = workflow(repo)["jobs"].values()
    script = next(step for step in job["steps"] if step.get("id") == STEP_ID)["run"]
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "sudo").write_text('#!/bin/sh\nexec "$@"\n', encoding="utf-8")
    (shims / "sudo").chmod(0o755)
    runner_temp, output, summary = tmp_path / "runner", tmp_path / "out", tmp_path / "sum.md"
    runner_temp.mkdir()
    env = {
        **os.environ,
        "PATH": f"{shims}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_WORKSPACE": str(repo),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return decode_result(output.read_text(encoding="utf-8")), summary.read_text(encoding="utf-8")


def reporter_points(result: dict[str, Any]) -> tuple[int, int]:
    """What the reporter posts as "Points X/Y": the tests' scores over max_score."""
    return sum(test["score"] for test in result["tests"]), result["max_score"]


@pytest.mark.slow
def test_the_grading_step_gives_the_starter_no_points(repo: Path, tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(repo, copy)
    result, summary = run_grading_step(copy, tmp_path)
    points, max_points = reporter_points(result)
    assert points == 0
    assert max_points > 0
    assert result["status"] == "fail"
    assert "❌" in summary
    assert "✅" not in summary


@pytest.mark.slow
def test_the_grading_step_gives_the_reference_full_points(repo: Path, tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(repo, copy)
    shutil.copytree(REPO / "reference_solutions" / "caching", copy, dirs_exist_ok=True)
    result, summary = run_grading_step(copy, tmp_path)
    points, max_points = reporter_points(result)
    assert points == max_points > 0
    assert result["status"] == "pass"
    assert "❌" not in summary
    assert f"{max_points}/{max_points} points" in summary
