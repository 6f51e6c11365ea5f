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

The rule is read from the solution's source with :mod:`ast`, never from its imported
objects: the same answer whether the code runs in the checks' process or in a worker, and
nothing the code does at run time can change it. An export defined in a sibling module of
the solution (``from .helpers import CacheService``) is followed there. A tutorial's check
module gets its check from :func:`documentation_check`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.solution import shown

TODO = "TODO"
"""The marker starter docstrings carry; a docstring holding it does not document the code."""
MIN_WORDS = 5
"""The fewest words a docstring needs to say something."""
MAX_FOLLOWED_IMPORTS = 8
_WORD = re.compile(r"[A-Za-z0-9_']+")
Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def documentation_problems(solution: Any) -> list[str]:
    """Every docstring and type hint of the solution's public API that breaks the rule.

    ``solution`` is the :class:`~pytest_tutorial.solution.Solution` (or its worker
    stand-in): its ``module_file`` is read, its ``exports`` are looked up there.
    """
    module_file = Path(solution.module_file)
    try:
        tree = _parse(module_file)
    except (OSError, SyntaxError, ValueError) as error:
        return [f"{shown(module_file)} cannot be read: {error}"]
    problems = _docstring_problems(
        f"the module {shown(module_file)}", ast.get_docstring(tree) or "", ()
    )
    for name in solution.exports:
        found = _definition(module_file, tree, name, MAX_FOLLOWED_IMPORTS)
        if found is None:
            problems.append(
                f"{name} is not defined by a def or class statement in {shown(module_file)} "
                "(or a module it imports it from), where its docstring is read"
            )
            continue
        problems += _definition_problems(name, found)
    return problems


def _definition_problems(name: str, node: Definition) -> list[str]:
    if not isinstance(node, ast.ClassDef):
        return _function_problems(name, node, method=False)
    problems = _docstring_problems(name, ast.get_docstring(node) or "", ())
    for member in node.body:
        if not isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if member.name.startswith("_") and member.name != "__init__":
            continue
        if any(_decorator_name(d) in ("setter", "deleter") for d in member.decorator_list):
            continue  # a property's setter is documented by its getter
        problems += _function_problems(f"{name}.{member.name}", member, method=True)
    return problems


def _function_problems(
    name: str, node: ast.FunctionDef | ast.AsyncFunctionDef, *, method: bool
) -> list[str]:
    decorators = {_decorator_name(d) for d in node.decorator_list}
    parameters = _parameters(node, method=method and "staticmethod" not in decorators)
    problems = []
    if not name.endswith(".__init__"):  # the class docstring documents construction
        shown_params = () if "property" in decorators else tuple(p.arg for p in parameters)
        problems += _docstring_problems(name, ast.get_docstring(node) or "", shown_params)
    missing = [p.arg for p in parameters if p.annotation is None]
    if node.returns is None:
        missing.append("return")
    if missing:
        problems.append(f"{name} lacks type hints for {', '.join(missing)}")
    return problems


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef, *, method: bool) -> list[ast.arg]:
    arguments = node.args
    found = [*arguments.posonlyargs, *arguments.args]
    if method and found:
        found = found[1:]  # self or cls
    found += arguments.kwonlyargs
    found += [extra for extra in (arguments.vararg, arguments.kwarg) if extra is not None]
    return found


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


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _definition(path: Path, tree: ast.Module, name: str, hops: int) -> Definition | None:
    """The def or class statement that defines ``name`` in ``tree``, following imports."""
    for node in reversed(tree.body):  # the last definition wins, as at run time
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return node
        elif isinstance(node, ast.Assign) and hops > 0:
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if name in targets and isinstance(node.value, ast.Name):
                return _definition(path, tree, node.value.id, hops - 1)
        elif isinstance(node, ast.ImportFrom) and hops > 0:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return _imported(path, node, alias.name, hops - 1)
    return None


def _imported(path: Path, node: ast.ImportFrom, name: str, hops: int) -> Definition | None:
    """Follow ``from .sibling import name`` (or ``from sibling import name``) in the folder."""
    if node.module is None or node.level > 1:
        return None
    source = path.parent.joinpath(*node.module.split(".")).with_suffix(".py")
    if not source.is_file():
        source = path.parent.joinpath(*node.module.split("."), "__init__.py")
    try:
        tree = _parse(source)
    except (OSError, SyntaxError, ValueError):
        return None
    return _definition(source, tree, name, hops)


def documentation_check(
    *, step: int, hint: str | Sequence[str], points: int = 2
) -> Callable[[Any], None]:
    """The check of a tutorial's "documentation" item, marked with its step and hint.

    In a check module: ``test_public_api_is_documented = documentation_check(step=1,
    hint="...")``.
    """

    def test_public_api_has_docstrings_and_type_hints(solution: Any) -> None:
        problems = documentation_problems(solution)
        assert not problems, "; ".join(problems)

    mark = pytest.mark.checklist(
        "documentation",
        points=points,
        step=step,
        hint=hint if isinstance(hint, str) else list(hint),
    )
    marked: Callable[[Any], None] = mark(test_public_api_has_docstrings_and_type_hints)
    return marked
