"""Checks of "Code is well-documented": docstrings and type hints on the public API."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from pytest_tutorial.solution import Solution

TODO = "TODO"
"""A docstring that still holds the starter's TODO note does not document the code."""


def _public_callables(solution: Solution) -> dict[str, Any]:
    """The exports and the public methods of exported classes, by qualified name."""
    found: dict[str, Any] = {}
    for name in solution.exports:
        obj = getattr(solution, name)
        found[name] = obj
        if inspect.isclass(obj):
            for attribute, member in vars(obj).items():
                if attribute.startswith("_") and attribute != "__init__":
                    continue
                if inspect.isfunction(member):
                    found[f"{name}.{attribute}"] = member
    return found


def _missing_annotations(function: Any) -> list[str]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return []
    missing = [
        parameter.name
        for parameter in signature.parameters.values()
        if parameter.name not in ("self", "cls") and parameter.annotation is inspect.Parameter.empty
    ]
    if signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


@pytest.mark.checklist(
    "documentation",
    points=2,
    step=1,
    hint="give the module, every exported "
    "class and function, and every public method a docstring and full type hints",
)
def test_public_api_has_docstrings_and_type_hints(solution: Solution) -> None:
    problems = []
    module_doc = solution.module.__doc__ or ""
    if not module_doc.strip() or TODO in module_doc:
        problems.append(f"the module {solution.module_file} has no docstring of its own")
    for name, obj in _public_callables(solution).items():
        doc = "" if _inherited_doc(obj) else inspect.getdoc(obj) or ""
        if name.endswith(".__init__"):
            pass  # the class docstring documents construction
        elif not doc.strip():
            problems.append(f"{name} has no docstring")
        elif TODO in doc:
            problems.append(f"{name}'s docstring is still the starter's TODO note")
        if inspect.isfunction(obj):
            missing = _missing_annotations(obj)
            if missing:
                problems.append(f"{name} lacks type hints for {', '.join(missing)}")
    assert not problems, "; ".join(problems)


def _inherited_doc(obj: Any) -> bool:
    """True when the only docstring comes from ``object`` (a class without its own)."""
    return inspect.isclass(obj) and obj.__doc__ is None
