"""The report's TypedDicts and report.schema.json describe the same shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial import report_model
from pytest_tutorial.report import SCHEMA_PATH

SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
TOP = SCHEMA["properties"]
DEFS = SCHEMA["$defs"]


def _typed(kind: Any) -> tuple[set[str], set[str]]:
    """(every key, the required keys) of a TypedDict."""
    return set(kind.__annotations__) | set(kind.__required_keys__), set(kind.__required_keys__)


@pytest.mark.parametrize(
    ("kind", "schema"),
    [
        (report_model.Report, SCHEMA),
        (report_model.TutorialBlock, TOP["tutorial"]),
        (report_model.SolutionBlock, TOP["solution"]),
        (report_model.Score, TOP["score"]),
        (report_model.GradingBlock, TOP["grading"]),
        (report_model.Usage, TOP["grading"]["properties"]["usage"]),
        (report_model.ItemEntry, DEFS["item"]),
        (report_model.CheckEntry, DEFS["check"]),
        (report_model.LoadTestEntry, DEFS["load_test"]),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_each_typed_dict_has_the_schemas_keys(kind: Any, schema: dict[str, Any]) -> None:
    keys, required = _typed(kind)
    assert keys == set(schema["properties"])
    # The writer may promise more than the schema demands of old reports, never less.
    assert set(schema.get("required", [])) <= required


def test_a_written_report_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"schema_version": "1.1", "checklist": []}), encoding="utf-8")
    assert report_model.read_report(path) is not None


@pytest.mark.parametrize(
    "text", ["", "[]", "{}", '{"schema_version": "2.0", "checklist": []}', '{"checklist": 3}']
)
def test_what_is_not_a_report_reads_as_none(tmp_path: Path, text: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(text, encoding="utf-8")
    assert report_model.read_report(path) is None
    assert report_model.read_report(tmp_path / "missing.json") is None
