"""The documentation rule: docstrings that say something, about the arguments, and type hints."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from pytest_tutorial.documentation import documentation_problems
from pytest_tutorial.solution import Solution


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


def _solution(folder: Path, source: str, exports: tuple[str, ...] = ("Store",)) -> Solution:
    (folder / "store.py").write_text(textwrap.dedent(source), encoding="utf-8")
    module = ModuleType("store")
    module.__file__ = str(folder / "store.py")
    return Solution(path=folder, kind="path", module=module, exports=exports)


GOOD = '''
    """A small key-value store for the documentation rule's tests."""

    class Store:
        """Keeps values by key, in memory, for as long as it lives."""

        def get(self, key: str) -> int:
            """Return the value stored under key, or 0 when there is none."""
            return 0
'''


def test_a_documented_api_has_no_problem(folder: Path) -> None:
    assert documentation_problems(_solution(folder, GOOD)) == []


def test_an_export_imported_from_a_sibling_module_is_read_there(folder: Path) -> None:
    body = GOOD.split("class Store:", 1)[1]
    (folder / "impl.py").write_text(
        textwrap.dedent('"""The implementation."""\n\nclass Store:' + body), encoding="utf-8"
    )
    facade = '"""The module the tutorial names, re-exporting Store."""\nfrom .impl import Store\n'
    assert documentation_problems(_solution(folder, facade)) == []
    broken = facade.replace("from .impl import Store", "Store = make_store()")
    [problem] = documentation_problems(_solution(folder, broken))
    assert problem.startswith("Store is not defined by a def or class statement")


def test_run_time_tricks_do_not_change_the_answer(folder: Path) -> None:
    source = textwrap.dedent(GOOD) + "\nStore.get.__doc__ = 'Return the value for key, always.'\n"
    source = source.replace(
        '"""Return the value stored under key, or 0 when there is none."""', "pass"
    )
    [problem] = documentation_problems(_solution(folder, source))
    assert problem == "Store.get has no docstring"


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            '"""Return the value stored under key, or 0 when there is none."""',
            '"""Get."""',
            "Store.get's docstring 'Get.' is too short",
        ),
        (
            '"""Return the value stored under key, or 0 when there is none."""',
            '"""Return the value that was stored there, or nothing."""',
            "Store.get's docstring does not say what it does with its arguments",
        ),
        (
            '"""Keeps values by key, in memory, for as long as it lives."""',
            '"""TODO: write me."""',
            "Store's docstring is still the starter's TODO note",
        ),
        (
            "def get(self, key: str) -> int:",
            "def get(self, key):",
            "Store.get lacks type hints for key, return",
        ),
    ],
)
def test_each_broken_rule_is_named(folder: Path, old: str, new: str, problem: str) -> None:
    assert GOOD.count(old) == 1
    problems = documentation_problems(_solution(folder, GOOD.replace(old, new)))
    assert any(found.startswith(problem) for found in problems), problems
