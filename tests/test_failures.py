"""Failure messages name the call, the error and the learner's line; tracebacks hide the harness."""

from __future__ import annotations

import importlib.util
import linecache
from pathlib import Path
from types import ModuleType

import pytest

from pytest_tutorial.failures import (
    ELLIPSIS,
    failure_message,
    first_lines,
    learner_frames,
    shorten,
)


def _module(path: Path, source: str) -> ModuleType:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"_failures_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, ModuleType]:
    solution, checks = tmp_path / "mine", tmp_path / "checks"
    learner = _module(
        solution / "service.py",
        "def lookup(key):\n    return {}[key]\n\ndef check_it(value):\n    assert value > 0\n",
    )
    check = _module(
        checks / "check_it.py",
        "def test_lookup(service):\n"
        "    found = service.lookup('user:1')\n"
        "    return found\n\n"
        "def test_own_assert(value):\n"
        "    assert value == 2, f'lookup returned {value}, expected 2'\n",
    )
    check.service = learner  # type: ignore[attr-defined]
    return solution, checks, check


def test_an_error_in_learner_code_names_the_call_and_the_line(
    folders: tuple[Path, Path, ModuleType],
) -> None:
    solution, checks, check = folders
    with pytest.raises(KeyError) as raised:
        check.test_lookup(check.service)
    message = failure_message(raised, solution=solution, checks=checks)
    assert message.startswith("KeyError: 'user:1' (in service.lookup('user:1'), at ")
    assert message.endswith("service.py:2)")


def test_a_check_whose_source_cannot_be_read_is_named_by_its_line(
    folders: tuple[Path, Path, ModuleType],
) -> None:
    # In a grading sandbox the check's file may be out of reach by the time a failure is
    # described: pytest's TracebackEntry.statement then fails an internal assert.
    solution, checks, check = folders
    with pytest.raises(KeyError) as raised:
        check.test_lookup(check.service)
    (checks / "check_it.py").unlink()
    linecache.clearcache()
    message = failure_message(raised, solution=solution, checks=checks)
    assert message.startswith("KeyError: 'user:1' (in line 2 of the check, at ")


def test_the_checks_own_assertion_message_is_kept_without_introspection(
    folders: tuple[Path, Path, ModuleType],
) -> None:
    solution, checks, check = folders
    with pytest.raises(AssertionError) as raised:
        check.test_own_assert(3)
    assert failure_message(raised, solution=solution, checks=checks) == (
        "lookup returned 3, expected 2"
    )


def test_an_assert_in_learner_code_is_the_learners_error(
    folders: tuple[Path, Path, ModuleType],
) -> None:
    solution, checks, check = folders
    with pytest.raises(AssertionError) as raised:
        check.service.check_it(-1)
    message = failure_message(raised, solution=solution, checks=checks)
    assert message.startswith("AssertionError")
    assert "service.py:5" in message


def test_a_traceback_keeps_the_learner_frames_and_the_checks_call_in_short_form(
    folders: tuple[Path, Path, ModuleType],
) -> None:
    solution, checks, check = folders
    with pytest.raises(KeyError) as raised:
        check.test_lookup(check.service)
    kept = learner_frames(solution, checks)(raised)
    assert [Path(entry.path).name for entry in kept] == ["check_it.py", "service.py"]
    text = str(raised.getrepr(style="long", tbfilter=learner_frames(solution, checks)))
    assert "def test_lookup" not in text  # the check's source (and its marker) stays hidden
    assert "return {}[key]" in text
    assert "test_failures.py" not in text


def test_a_cut_text_ends_with_an_ellipsis_and_says_where_the_rest_is() -> None:
    assert shorten("short", 10) == "short"
    cut = shorten("x" * 50, 10, rest=" (more: -v)")
    assert cut == "x" * 9 + ELLIPSIS + " (more: -v)"
    assert first_lines("a\n\nb\nc", limit=4) == "a\nb" + ELLIPSIS
