"""``pytest-tutorial grade`` and ``merge`` end to end, through the command line."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.cli import main
from pytest_tutorial.grading import gradebook
from tests.conftest import REPO, validate_report


def _grade(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_tutorial", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _report(out: Path, ident: str) -> dict[str, Any]:
    path = out / "submissions" / ident / "report.json"
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    validate_report(report)
    return report


@pytest.mark.slow
@pytest.mark.wheel
def test_reference_gets_full_marks_and_the_starter_zero(tmp_path: Path) -> None:
    out, summary = tmp_path / "out", tmp_path / "step-summary.md"
    done = _grade(
        "grade",
        "--tutorial",
        "caching",
        "--out",
        str(out),
        "--jobs",
        "2",
        "reference_solutions/caching",
        "exercises/caching",
        env={"GITHUB_STEP_SUMMARY": str(summary), "PYTEST_ADDOPTS": "-k nothing_at_all"},
    )
    assert done.returncode == 0, done.stderr
    reference = _report(out, "reference_solutions-caching")
    starter = _report(out, "exercises-caching")
    full = reference["score"]["max_points"]  # every check of the tutorial, by its points
    assert full > 0
    assert reference["score"]["points"] == full
    assert reference["verdict"] == "validated"
    assert starter["score"]["points"] == 0
    assert {item["status"] for item in starter["checklist"] if item["automated"]} <= {
        "failed",
        "error",
        "timeout",
    }
    for report in (reference, starter):
        assert report["grading"]["outcome"] == "completed"

    # Gradescope: one test per check, scored by its points.
    scope = json.loads(
        (out / "submissions" / "reference_solutions-caching" / "results.json").read_text()
    )
    assert scope["score"] == scope["max_score"] == full
    assert sum(test["max_score"] for test in scope["tests"]) == full
    assert {test["status"] for test in scope["tests"]} == {"passed"}
    assert set(scope["tests"][0]) >= {
        "name",
        "score",
        "max_score",
        "status",
        "output",
        "visibility",
    }

    # JUnit: every check of the starter fails or errors.
    suite = ElementTree.parse(out / "submissions" / "exercises-caching" / "junit.xml").getroot()
    cases = suite.findall("testcase")
    assert int(suite.get("tests", 0)) == len(cases) > 0
    assert all(case.find("failure") is not None or case.find("error") is not None for case in cases)

    # Gradebook, summary, and the job summary of GitHub Actions.
    with (out / gradebook.CSV_NAME).open(encoding="utf-8") as stream:
        rows = {row["submission"]: row for row in csv.DictReader(stream)}
    assert rows["reference_solutions-caching"]["points"] == str(full)
    assert rows["exercises-caching"]["points"] == "0"
    assert f"| reference_solutions-caching | {full}/{full} | validated |" in summary.read_text()
    assert (out / gradebook.SUMMARY_NAME).read_text() in summary.read_text()
    assert "[2/2]" in done.stderr  # a line per submission when not a terminal


@pytest.mark.slow
def test_broken_archives_and_no_sandbox_still_give_reports(tmp_path: Path) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip at all")
    escaping = tmp_path / "escaping.zip"
    with zipfile.ZipFile(escaping, "w") as bundle:
        bundle.writestr("../../outside.py", "print('escaped')\n")
        bundle.writestr("cache_service.py", "raise ImportError('from the archive')\n")
    out = tmp_path / "out"
    done = _grade(
        "grade",
        "--tutorial",
        "caching",
        "--out",
        str(out),
        "--sandbox",
        "none",
        "-k",
        "core",
        "--timeout",
        "60",
        str(broken),
        str(escaping),
    )
    assert done.returncode == 0, done.stderr
    assert "warning: containment was turned off" in done.stderr
    report = _report(out, "broken")
    assert report["grading"]["outcome"] == "invalid"
    assert report["verdict"] == "error"
    assert report["score"]["points"] == 0
    report = _report(out, "escaping")
    assert report["grading"]["sandbox"] == "rlimits"
    assert any("outside" in entry for entry in report["grading"]["skipped_files"])
    assert not (tmp_path.parent / "outside.py").exists()
    assert "from the archive" in json.dumps(report["checklist"])


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    given = str(tmp_path)
    assert main(["grade", "--tutorial", "no_such_tutorial", "--out", given, given]) == 2
    assert "no such tutorial" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", "--tutorial", "caching", "--out", str(tmp_path), "--shard", "3/2", "x"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["grade", "--tutorial", "caching", "--out", str(tmp_path)])


def _book(rows: list[str], shard: tuple[int, int], version: str = "1.0") -> gradebook.Gradebook:
    return gradebook.Gradebook(
        tutorial={"id": "caching", "title": "Caching", "version": version},
        items=[{"id": "core", "text": "Core", "max_points": 2}],
        max_points=2,
        rows=[
            {
                "submission": name,
                "source": name,
                "grading": "completed",
                "verdict": "error",
                "points": 1,
                "max_points": 2,
                "percent": 50.0,
                "items": {"core": 1},
                "duration_s": 1.0,
                "report": f"{name}/report.json",
                "detail": "",
            }
            for name in rows
        ],
        shard={"index": shard[0], "count": shard[1]},
        sandbox="bubblewrap",
    )


def test_merge_combines_shards_and_refuses_overlaps(tmp_path: Path) -> None:
    for number, names in ((1, ["ada", "cy"]), (2, ["bo"])):
        _book(names, (number, 2)).write(tmp_path / f"shard-{number}")
    assert (
        main(
            [
                "merge",
                "--out",
                str(tmp_path / "all"),
                str(tmp_path / "shard-1"),
                str(tmp_path / "shard-2" / "gradebook.json"),
            ]
        )
        == 0
    )
    merged = gradebook.read(tmp_path / "all")
    assert [row["submission"] for row in merged.to_json()["submissions"]] == ["ada", "bo", "cy"]
    assert "merged from 2 gradebook(s)" in (tmp_path / "all" / "summary.md").read_text()
    assert (
        main(
            [
                "merge",
                "--out",
                str(tmp_path / "dup"),
                str(tmp_path / "shard-1"),
                str(tmp_path / "shard-1"),
            ]
        )
        == 2
    )
    _book(["zed"], (1, 1), version="2.0").write(tmp_path / "other")
    assert (
        main(
            [
                "merge",
                "--out",
                str(tmp_path / "mix"),
                str(tmp_path / "shard-1"),
                str(tmp_path / "other"),
            ]
        )
        == 2
    )


@pytest.mark.wheel
def test_the_console_script_and_the_plugin_are_installed_entry_points() -> None:
    """The installed distribution (editable, or the wheel in CI) declares both entry points."""
    declared = metadata.distribution("pytest-tutorial").entry_points
    [script] = declared.select(group="console_scripts", name="pytest-tutorial")
    assert script.value == "pytest_tutorial.cli:main"
    assert script.load() is main
    [plugin] = declared.select(group="pytest11", name="tutorial")
    assert plugin.value == "pytest_tutorial.plugin"
    found = metadata.entry_points(group="console_scripts", name="pytest-tutorial")
    assert [entry.value for entry in found] == [script.value]  # no other package claims it
