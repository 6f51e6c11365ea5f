"""A tutorial run collects its check modules and asks no plugin about any other path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RunTutorial, checks_in

SPY = """
import json, os

def pytest_ignore_collect(collection_path, config):
    with open(os.environ["ASKED_RECORD"], "a", encoding="utf-8") as record:
        record.write(json.dumps(str(collection_path)) + "\\n")
"""


def test_no_other_plugin_is_asked_about_any_path(
    run_tutorial: RunTutorial,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pytest lists every folder on the way down to each check module (the package's own
    among them, some 170 entries) and asks every plugin whether to ignore each entry but
    the ones on the way: the run's scope answers first, so no other plugin is asked."""
    record = pytester.path / "asked.jsonl"
    monkeypatch.setenv("ASKED_RECORD", str(record))
    pytester.makepyfile(ignore_spy=SPY)
    pytester.syspathinsert()
    plain = pytester.mkdir("plain")
    (plain / "test_plain.py").write_text("def test_plain():\n    pass\n", encoding="utf-8")
    (plain / "notes.txt").write_text("not a test\n", encoding="utf-8")
    pytester.runpytest("-p", "ignore_spy", str(pytester.path)).assert_outcomes(passed=1)
    asked = {Path(json.loads(line)) for line in record.read_text(encoding="utf-8").splitlines()}
    assert plain / "notes.txt" in asked  # the spy is asked in a plain run
    record.unlink()

    run = run_tutorial("caching", "-p", "ignore_spy", "-k", "defaults", solution="reference")
    assert not record.exists()
    checks = [check for item in run.report["checklist"] for check in item["checks"]]
    assert len(checks) == checks_in("caching")  # every check collected, one selected
