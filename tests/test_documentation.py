"""The documentation rule: docstrings that say something, about the arguments, and type hints."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from pytest_tutorial.documentation import documentation_problems
from pytest_tutorial.solution import Solution


def _solution(source: str, exports: tuple[str, ...] = ("Store",)) -> Solution:
    module = ModuleType("store")
    module.__file__ = "store.py"
    exec(textwrap.dedent(source), module.__dict__)
    return Solution(path=Path("."), kind="path", module=module, exports=exports)


GOOD = '''
    """A small key-value store for the documentation rule's tests."""

    class Store:
        """Keeps values by key, in memory, for as long as it lives."""

        def get(self, key: str) -> int:
            """Return the value stored under key, or 0 when there is none."""
            return 0
'''


def test_a_documented_api_has_no_problem() -> None:
    assert documentation_problems(_solution(GOOD)) == []


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
def test_each_broken_rule_is_named(old: str, new: str, problem: str) -> None:
    assert GOOD.count(old) == 1
    problems = documentation_problems(_solution(GOOD.replace(old, new)))
    assert any(found.startswith(problem) for found in problems), problems
