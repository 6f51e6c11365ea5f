"""A tutorial's known bugs, and the self-contained modules the learner's tests run against.

A tutorial's ``known_bad.py`` is a plain, correct implementation of its contract whose
classes take *bug flags* (keyword parameters of ``__init__`` whose literal defaults keep
the contract), plus two literal declarations::

    KNOWN_BUGS = {
        "drops_ttl": {
            "flags": {"set_ttl": False},
            "description": "writes values to Redis without a TTL",
        },
    }
    PUBLIC_NAMES = {"NaiveCacheService": "CacheService"}

:func:`build_module` turns such a source into one module with the flags fixed: their
defaults give the *control* (a correct implementation), a bug's flags give that known bug.
The flag parameters and attributes disappear, the branches they decided are folded away,
classes take their contract names, and the declarations and every docstring are dropped.
So the learner's tests see a module that neither says what it is nor imports anything of
``pytest_tutorial``: it looks like any other ``cache_service.py``.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

BASE_NAME = "known_bad.py"
BUGS_NAME = "KNOWN_BUGS"
NAMES_NAME = "PUBLIC_NAMES"
FlagValue = bool | int | float | str | None


class KnownBadError(Exception):
    """The tutorial's ``known_bad.py`` declares its bugs wrongly; the message names the fix."""


@dataclass(frozen=True)
class KnownBug:
    """One declared bug: the flags that switch it on and what it does, for messages."""

    name: str
    flags: Mapping[str, FlagValue]
    description: str


@dataclass(frozen=True)
class KnownBad:
    """A tutorial's ``known_bad.py``: its source, declared bugs and public class names."""

    path: Path
    source: str
    bugs: tuple[KnownBug, ...]
    public_names: Mapping[str, str]
    defaults: Mapping[str, FlagValue]
    """Every flag and its correct (default) value."""
    declaration_lines: frozenset[int] = field(default=frozenset())
    """The lines of the two declarations (never worth mutating)."""

    def build(self, source: str | None = None, flags: Mapping[str, FlagValue] | None = None) -> str:
        """The self-contained module of ``source`` (default: the base) with ``flags`` set."""
        return build_module(self.source if source is None else source, self, flags or {})


def load_known_bad(tutorial_dir: Path) -> KnownBad | None:
    """The tutorial's ``known_bad.py``, or None when it has none (or declares no bugs)."""
    path = tutorial_dir / BASE_NAME
    if not path.is_file():
        return None
    source = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(source, str(path))
    except SyntaxError as error:
        raise KnownBadError(f"{path}:{error.lineno}: SyntaxError: {error.msg}") from None
    declared = _declarations(tree, path)
    if BUGS_NAME not in declared:
        return None
    bugs_value, bugs_line = declared[BUGS_NAME]
    names_value, names_line = declared.get(NAMES_NAME, ({}, 0))
    parameters = _flag_defaults(tree)
    bugs = _bugs(bugs_value, parameters, f"{path}:{bugs_line}")
    defaults = {flag: parameters[flag] for bug in bugs for flag in bug.flags}
    if not isinstance(names_value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.isidentifier()
        for k, v in names_value.items()
    ):
        raise KnownBadError(
            f"{path}:{names_line}: {NAMES_NAME} must map class names to contract names, "
            'e.g. {"NaiveCacheService": "CacheService"}'
        )
    lines = {
        line
        for node in tree.body
        if _assigned_name(node) in (BUGS_NAME, NAMES_NAME)
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
    }
    return KnownBad(path, source, bugs, dict(names_value), defaults, frozenset(lines))


def build_module(source: str, known: KnownBad, flags: Mapping[str, FlagValue]) -> str:
    """``source`` (the base or a mutant of it) as a neutral module with ``flags`` fixed."""
    values = {**known.defaults, **flags}
    tree = ast.parse(source)
    tree.body = [node for node in tree.body if _assigned_name(node) not in (BUGS_NAME, NAMES_NAME)]
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            _fix_flags(node, values)
    tree = _Fold().visit(tree)
    tree = _Rename(known.public_names).visit(tree)
    _drop_docstrings(tree)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


# --- reading the declarations ---------------------------------------------------------------


def _assigned_name(node: ast.stmt) -> str | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return target.id if isinstance(target, ast.Name) else None
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    return None


def _declarations(tree: ast.Module, path: Path) -> dict[str, tuple[object, int]]:
    found: dict[str, tuple[object, int]] = {}
    for node in tree.body:
        name = _assigned_name(node)
        value = getattr(node, "value", None)
        if name not in (BUGS_NAME, NAMES_NAME) or value is None:
            continue
        try:
            found[name] = (ast.literal_eval(value), node.lineno)
        except ValueError:
            raise KnownBadError(
                f"{path}:{node.lineno}: {name} must be a literal (dicts, strings, numbers, "
                "True/False/None), so it can be read without importing the module"
            ) from None
    return found


def _flag_defaults(tree: ast.Module) -> dict[str, FlagValue]:
    """Every keyword-only parameter with a literal default of every class's ``__init__``."""
    defaults: dict[str, FlagValue] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and (init := _init(node)) is not None:
            for arg, default in zip(init.args.kwonlyargs, init.args.kw_defaults, strict=True):
                value = default.value if isinstance(default, ast.Constant) else ...
                if value is None or isinstance(value, bool | int | float | str):
                    defaults[arg.arg] = value
    return defaults


def _bugs(value: object, defaults: Mapping[str, FlagValue], where: str) -> tuple[KnownBug, ...]:
    example = '{"drops_ttl": {"flags": {"set_ttl": False}, "description": "..."}}'
    if not isinstance(value, dict) or not value:
        raise KnownBadError(f"{where}: {BUGS_NAME} must be a non-empty dict like {example}")
    bugs = []
    for name, spec in value.items():
        if not (isinstance(name, str) and name.isidentifier() and isinstance(spec, dict)):
            raise KnownBadError(f"{where}: {BUGS_NAME} must be a dict like {example}")
        flags, description = spec.get("flags"), spec.get("description")
        if not isinstance(flags, dict) or not flags or not isinstance(description, str):
            raise KnownBadError(
                f"{where}: {BUGS_NAME}[{name!r}] needs 'flags' (a non-empty dict) and "
                f"'description' (one line), like {example}"
            )
        unknown = sorted(set(flags) - set(defaults))
        if unknown:
            raise KnownBadError(
                f"{where}: {BUGS_NAME}[{name!r}] sets {', '.join(unknown)}, which no class's "
                "__init__ takes as a keyword parameter with a literal default"
            )
        if all(flags[flag] == defaults[flag] for flag in flags):
            raise KnownBadError(
                f"{where}: {BUGS_NAME}[{name!r}] sets every flag to its default: that is no bug"
            )
        bugs.append(KnownBug(name, dict(flags), description.strip()))
    return tuple(bugs)


def _init(node: ast.ClassDef) -> ast.FunctionDef | None:
    return next(
        (f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None
    )


# --- building -------------------------------------------------------------------------------


def _fix_flags(node: ast.ClassDef, values: Mapping[str, FlagValue]) -> None:
    """Drop the flag parameters of the class's ``__init__``; their uses become constants."""
    init = _init(node)
    if init is None:
        return
    args = init.args
    flags = {arg.arg for arg in args.kwonlyargs if arg.arg in values}
    if not flags:
        return
    kept = [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    kept = [(a, d) for a, d in kept if a.arg not in flags]
    args.kwonlyargs = [a for a, _ in kept]
    args.kw_defaults = [d for _, d in kept]
    chosen = {flag: values[flag] for flag in flags}
    _Substitute(chosen, names=False).visit(node)
    _Substitute(chosen, names=True).visit(init)


class _Substitute(ast.NodeTransformer):
    """``self.<flag>`` becomes the flag's value (in ``__init__`` also ``<flag>``).

    ``self.<flag> = ...`` goes.
    """

    def __init__(self, values: Mapping[str, FlagValue], *, names: bool) -> None:
        self.values = values
        self.names = names

    def visit_Assign(self, node: ast.Assign) -> ast.AST | None:
        if len(node.targets) == 1 and self._flag(node.targets[0]) is not None:
            return None
        return self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        flag = self._flag(node)
        if flag is not None and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Constant(self.values[flag]), node)
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if self.names and node.id in self.values and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Constant(self.values[node.id]), node)
        return node

    def _flag(self, node: ast.expr) -> str | None:
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            and node.attr in self.values
        ):
            return node.attr
        return None


def _constant(node: ast.expr) -> TypeGuard[ast.Constant]:
    return isinstance(node, ast.Constant) and not isinstance(node.value, str | bytes)


class _Fold(ast.NodeTransformer):
    """Fold what a fixed flag decided: ``not True``, ``x if True else y``, ``if False: ...``."""

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and _constant(node.operand):
            return ast.copy_location(ast.Constant(not node.operand.value), node)
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        stops = isinstance(node.op, ast.Or)  # `or` stops at a true value, `and` at a false one
        values: list[ast.expr] = []
        for position, value in enumerate(node.values):
            last = position == len(node.values) - 1
            if _constant(value) and not last and bool(value.value) is not stops:
                continue  # `False or x` is x; `True and x` is x
            values.append(value)
            if _constant(value) and bool(value.value) is stops:
                break  # nothing after it runs
        if len(values) == 1:
            return values[0]
        node.values = values
        return node

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        self.generic_visit(node)
        if _constant(node.test):
            return node.body if node.test.value else node.orelse
        return node

    def visit_If(self, node: ast.If) -> ast.AST | list[ast.stmt] | None:
        self.generic_visit(node)
        node.test = _truthiness(node.test)
        if _constant(node.test):
            chosen = node.body if node.test.value else node.orelse
            return chosen or None
        if not node.body:
            node.body = [ast.Pass()]
        return node


def _truthiness(test: ast.expr) -> ast.expr:
    """In a condition only truth counts: ``x or False`` is ``x``, ``x or True`` is true."""
    if isinstance(test, ast.BoolOp):
        stops = isinstance(test.op, ast.Or)
        values = [v for v in test.values if not (_constant(v) and bool(v.value) is not stops)]
        if not values:
            return ast.Constant(not stops)
        decided = [v for v in values if _constant(v) and bool(v.value) is stops]
        if decided and all(isinstance(v, ast.Name | ast.Constant) for v in values):
            return ast.Constant(stops)  # `x or True`: true whatever the name holds
        if len(values) == 1:
            return values[0]
        test.values = values
    return test


class _Rename(ast.NodeTransformer):
    """Classes take their contract names, also in ``__all__`` and every reference."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.name = self.names.get(node.name, node.name)
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self.names.get(node.id, node.id)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        if _assigned_name(node) == "__all__" and isinstance(node.value, ast.List | ast.Tuple):
            for element in node.value.elts:
                if isinstance(element, ast.Constant) and isinstance(element.value, str):
                    element.value = self.names.get(element.value, element.value)
        return self.generic_visit(node)


def _drop_docstrings(tree: ast.Module) -> None:
    """No docstring survives, nor a string under an attribute (the base's say what it is).

    A body left empty (by this or by a dropped flag assignment) gets ``pass``.
    """
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            body = getattr(node, name, None)
            if not isinstance(body, list) or not all(isinstance(n, ast.stmt) for n in body):
                continue
            if not body and (name != "body" or isinstance(node, ast.Module)):
                continue  # an empty else/finally is no else/finally
            kept = [statement for statement in body if not _is_text(statement)]
            if not kept and not isinstance(node, ast.Module):
                kept = [ast.Pass()]
            setattr(node, name, kept)


def _is_text(statement: ast.AST) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )
