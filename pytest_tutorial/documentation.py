"""What "Code is well-documented" means for any tutorial: docstrings and type hints.

A tutorial's documentation check calls :func:`documentation_problems` on the solution
and fails with the list it returns. The public API is the solution module, its exports,
and the public methods of exported classes (``__init__`` included for its type hints; the
class docstring documents construction). A docstring that still holds the starter's
:data:`TODO` note counts as missing: starters ship documented stubs, and copying a stub's
docstring is not documenting one's own code.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from pytest_tutorial.solution import Solution, shown

TODO = "TODO"
"""The marker starter docstrings carry; a docstring holding it does not document the code."""


def documentation_problems(solution: Solution) -> list[str]:
    """Every missing docstring and type hint of the solution's public API, as sentences."""
    problems = []
    module_doc = solution.module.__doc__ or ""
    if not module_doc.strip() or TODO in module_doc:
        problems.append(
            f"the module {shown(Path(solution.module_file))} has no docstring of its own"
        )
    for name, obj in public_callables(solution).items():
        doc = "" if _inherited_doc(obj) else inspect.getdoc(obj) or ""
        if name.endswith(".__init__"):
            pass  # the class docstring documents construction
        elif not doc.strip():
            problems.append(f"{name} has no docstring")
        elif TODO in doc:
            problems.append(f"{name}'s docstring is still the starter's TODO note")
        if inspect.isfunction(obj):
            missing = missing_annotations(obj)
            if missing:
                problems.append(f"{name} lacks type hints for {', '.join(missing)}")
    return problems


def public_callables(solution: Solution) -> dict[str, Any]:
    """The exports and the public methods of exported classes, by qualified name.

    Coroutine functions count like any other; properties are documented by their getter.
    """
    found: dict[str, Any] = {}
    for name in solution.exports:
        obj = getattr(solution, name)
        found[name] = obj
        if inspect.isclass(obj):
            for attribute, member in vars(obj).items():
                if attribute.startswith("_") and attribute != "__init__":
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                elif isinstance(member, property) and member.fget is not None:
                    member = member.fget
                if inspect.isfunction(member):
                    found[f"{name}.{attribute}"] = member
    return found


def missing_annotations(function: Any) -> list[str]:
    """The parameters (and ``return``) of ``function`` that have no type hint."""
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


def _inherited_doc(obj: Any) -> bool:
    """True when the only docstring comes from ``object`` (a class without its own)."""
    return inspect.isclass(obj) and obj.__doc__ is None
