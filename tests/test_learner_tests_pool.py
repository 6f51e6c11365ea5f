"""``pytest-tutorial hidden-bugs``: making a pool on a tiny tutorial, and checking pools.

The ``mini`` tutorial of :mod:`tests.mini_course` gets a ``known_bad.py`` (a range
class with one bug flag) and reference tests that check clamping but not the error message
nor a constant no test reads; the pool must hold the mutants they catch and only those.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_tutorial.cli import main
from pytest_tutorial.discovery import BUNDLED_ROOT
from pytest_tutorial.hidden_bugs import load_pool
from pytest_tutorial.known_bugs import load_known_bad
from tests.mini_course import make_course

KNOWN_BAD = '''"""A plain clamp, with one bug flag."""

KNOWN_BUGS = {"no_range_check": {"flags": {"check": False}, "description": "accepts low > high"}}
PUBLIC_NAMES = {"NaiveRange": "Range"}
LIMIT = 1000


class NaiveRange:
    """Clamps numbers."""

    def __init__(self, *, check: bool = True) -> None:
        self.check = check

    def clamp(self, value: float, low: float, high: float) -> float:
        if self.check and low > high:
            raise ValueError("low > high")
        if value < low:
            return low
        if value > high:
            return high
        return value


def clamp(value: float, low: float, high: float) -> float:
    """Clamp with a fresh range."""
    return NaiveRange().clamp(value, low, high)
'''
REFERENCE_TESTS = """
import pytest
from mini import clamp


@pytest.mark.parametrize(("value", "expected"), [(-1, 0), (5, 5), (11, 10)])
def test_clamps(value, expected):
    assert clamp(value, 0, 10) == expected


def test_bad_range():
    with pytest.raises(ValueError):
        clamp(1, 5, 0)
"""


@pytest.mark.slow
def test_the_pool_holds_the_mutants_the_reference_tests_catch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    course = make_course(tmp_path)
    tutorial = course / "tutorials" / "mini"
    (tutorial / "known_bad.py").write_text(KNOWN_BAD, encoding="utf-8")
    (course / "reference_solutions" / "mini" / "tests").mkdir()
    (course / "reference_solutions" / "mini" / "tests" / "test_mini.py").write_text(
        REFERENCE_TESTS, encoding="utf-8"
    )
    monkeypatch.chdir(course)
    assert main(["hidden-bugs", str(tutorial)]) == 0
    assert "-> " in capsys.readouterr().out
    known = load_known_bad(tutorial)
    assert known is not None
    pool = load_pool(tutorial, known)
    changes = {(bug.original, bug.mutated) for bug in pool.bugs}
    assert ("value < low", "value >= low") in changes
    assert ("return high", "return None") in changes
    assert not [bug for bug in pool.bugs if "LIMIT" in bug.original or "1000" in bug.original]
    assert not [bug for bug in pool.bugs if "self.check" in bug.original]  # the flag's line
    assert all("mini" not in bug.description for bug in pool.bugs)
    assert any(" in Range.clamp (known_bad.py:" in bug.description for bug in pool.bugs)
    document = json.loads((tutorial / "hidden_bugs.json").read_text(encoding="utf-8"))
    assert "pytest-tutorial hidden-bugs mini" in document["about"]
    assert main(["hidden-bugs", "--check", str(tutorial)]) == 0


@pytest.mark.slow
def test_reference_tests_that_fail_against_the_correct_build_stop_it_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    course = make_course(tmp_path)
    tutorial = course / "tutorials" / "mini"
    (tutorial / "known_bad.py").write_text(KNOWN_BAD, encoding="utf-8")
    tests = course / "reference_solutions" / "mini" / "tests"
    tests.mkdir()
    (tests / "test_mini.py").write_text(
        "from mini import clamp\n\n\ndef test_wrong():\n    assert clamp(5, 0, 10) == 6\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(course)
    assert main(["hidden-bugs", str(tutorial)]) == 1
    out = capsys.readouterr().out
    assert "the reference's tests must pass against the correct build of known_bad.py" in out
    assert "tests/test_mini.py::test_wrong (every seed)" in out
    assert "mutants of known_bad.py" not in out  # no mutant was run
    assert not (tutorial / "hidden_bugs.json").exists()


def test_check_passes_for_the_shipped_pools_and_fails_for_a_stale_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hidden-bugs", "--check"]) == 0
    folder = tmp_path / "caching"
    shutil.copytree(BUNDLED_ROOT / "caching", folder, ignore=shutil.ignore_patterns("__py*"))
    module = folder / "known_bad.py"
    module.write_text(module.read_text(encoding="utf-8") + "\nEXTRA = 1\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["hidden-bugs", "--check", str(folder)]) == 1
    assert "caching: no usable pool" in capsys.readouterr().out


def test_an_unknown_tutorial_is_a_usage_mistake(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hidden-bugs", "no_such_tutorial"]) == 2
    assert "no such tutorial" in capsys.readouterr().out
