"""What "Code is well-documented" means for any tutorial: docstrings and type hints.

The public API is the solution module, its exports, and the public methods of exported
classes (``__init__`` included for its type hints; the class docstring documents
construction). The rule, stated in each tutorial's text:

- the module, every export and every public method has a docstring of its own, of at least
  :data:`MIN_WORDS` words (a one-word docstring says nothing);
- a function or method that takes arguments names at least one of them in its docstring
  (it says what it does *with* its inputs);
- every parameter and the return value of a function or method has a type hint.

A docstring that still holds the starter's :data:`TODO` note counts as missing: starters
ship documented stubs, and copying a stub's docstring is not documenting one's own code.
A tutorial's check module gets its check from :func:`documentation_check`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.solution import Solution, shown

TODO = "TODO"
"""The marker starter docstrings carry; a docstring holding it does not document the code."""
MIN_WORDS = 5
"""The fewest words a docstring needs to say something."""
_WORD = re.compile(r"[A-Za-z0-9_']+")


def documentation_problems(solution: Solution) -> list[str]:
    """Every docstring and type hint of the solution's public API that breaks the rule."""
    problems = _docstring_problems(
        f"the module {shown(Path(solution.module_file))}", solution.module.__doc__ or "", ()
    )
    for name, obj in public_callables(solution).items():
        if not name.endswith(".__init__"):  # the class docstring documents construction
            own = "" if _inherited_doc(obj) else inspect.getdoc(obj) or ""
            problems += _docstring_problems(name, own, () if inspect.isclass(obj) else _params(obj))
        if inspect.isfunction(obj):
            missing = missing_annotations(obj)
            if missing:
                problems.append(f"{name} lacks type hints for {', '.join(missing)}")
    return problems


def _docstring_problems(name: str, doc: str, params: Sequence[str]) -> list[str]:
    if not doc.strip():
        return [f"{name} has no docstring"]
    if TODO in doc:
        return [f"{name}'s docstring is still the starter's TODO note"]
    words = _WORD.findall(doc)
    if len(words) < MIN_WORDS:
        return [
            f"{name}'s docstring {doc.strip()!r} is too short to say anything (< {MIN_WORDS} words)"
        ]
    if params and not set(params) & set(words):
        return [
            f"{name}'s docstring does not say what it does with its arguments "
            f"(name at least one of: {', '.join(params)})"
        ]
    return []


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


def _params(function: Any) -> tuple[str, ...]:
    """The parameters a caller passes (not ``self``/``cls``); none for a property getter."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return ()
    return tuple(name for name in signature.parameters if name not in ("self", "cls"))


def _inherited_doc(obj: Any) -> bool:
    """True when the only docstring comes from ``object`` (a class without its own)."""
    return inspect.isclass(obj) and obj.__doc__ is None


def documentation_check(
    *, step: int, hint: str | Sequence[str], points: int = 2
) -> Callable[[Solution], None]:
    """The check of a tutorial's "documentation" item, marked with its step and hint.

    In a check module: ``test_public_api_is_documented = documentation_check(step=1,
    hint="...")``.
    """

    @pytest.mark.checklist(
        "documentation",
        points=points,
        step=step,
        hint=hint if isinstance(hint, str) else list(hint),
    )
    def test_public_api_has_docstrings_and_type_hints(solution: Solution) -> None:
        problems = documentation_problems(solution)
        assert not problems, "; ".join(problems)

    return test_public_api_has_docstrings_and_type_hints
