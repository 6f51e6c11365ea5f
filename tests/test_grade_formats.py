"""Output formats are plugins: the built-in two, and one an installed package adds."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_tutorial.grading import formats, outputs
from tests.test_grade_units import _report

PLUGIN = """
from pytest_tutorial import hookimpl

@hookimpl
def pytest_tutorial_write_report(report, folder):
    (folder / "points.txt").write_text(str(report["score"]["points"]))
"""


@pytest.fixture
def fresh_formats() -> Iterator[None]:
    formats.plugin_manager.cache_clear()
    yield
    formats.plugin_manager.cache_clear()


def test_the_built_in_formats_write_gradescope_and_junit(
    tmp_path: Path, fresh_formats: None
) -> None:
    outputs.write_submission(tmp_path, _report(), b"out", False)
    assert json.loads((tmp_path / outputs.GRADESCOPE_NAME).read_text())["score"] == 2
    assert (tmp_path / outputs.JUNIT_NAME).read_text().startswith("<?xml")
    assert sorted(name for name, _ in formats.plugin_manager().list_name_plugin()) == [
        "gradescope",
        "junit",
    ]


def test_an_installed_package_adds_a_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_formats: None
) -> None:
    site = tmp_path / "site"
    (site / "points_format-1.0.dist-info").mkdir(parents=True)
    (site / "points_format-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: points-format\nVersion: 1.0\n"
    )
    (site / "points_format-1.0.dist-info" / "entry_points.txt").write_text(
        f"[{formats.ENTRY_POINT_GROUP}]\npoints = points_format\n"
    )
    (site / "points_format.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "points_format", raising=False)
    out = tmp_path / "out"
    outputs.write_submission(out, _report(), b"", False)
    assert (out / "points.txt").read_text() == "2"
    assert (out / outputs.GRADESCOPE_NAME).is_file()
