"""Checks of "Code is well-documented": docstrings and type hints on the public API."""

from __future__ import annotations

import pytest

from pytest_tutorial.documentation import documentation_problems
from pytest_tutorial.solution import Solution


@pytest.mark.checklist(
    "documentation",
    points=2,
    step=1,
    hint="give the module, DocumentStore, both exceptions and every public method a "
    "docstring of your own and full type hints",
)
def test_public_api_has_docstrings_and_type_hints(solution: Solution) -> None:
    problems = documentation_problems(solution)
    assert not problems, "; ".join(problems)
