"""Small mutants of a reference solution, made with :mod:`ast`, to measure the checks.

A mutant is the reference with one small, plausible bug: a flipped comparison, a swapped
operator, a changed constant, a deleted call, a dropped ``raise``, an exception handler
that re-raises, or a ``return`` of None. Checks worth trusting fail on (kill) most of them;
a mutant that survives shows a behaviour no check looks at.

What is never mutated, because a change there is no bug the checks could see: docstrings,
type annotations, decorators, ``__all__``, ``if TYPE_CHECKING:`` and
``if __name__ == "__main__":`` blocks, string constants (messages and log text are free
text), and any line that ends with ``# pragma: no mutate``.

Mutation sites are found by one deterministic traversal; the same traversal applies the
k-th change to a fresh parse, so a mutant is just (file, index) and is cheap to rebuild.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

PRAGMA = "pragma: no mutate"

OPERATORS = ("comparison", "operator", "constant", "call", "raise", "handler", "return")
"""The kinds of mutation, as reported."""

_COMPARISONS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.LtE: ast.Gt,
    ast.Gt: ast.LtE,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BINARY: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
}
_SYMBOLS: dict[type[ast.AST], str] = {
    ast.Lt: "<",
    ast.GtE: ">=",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.And: "and",
    ast.Or: "or",
}


@dataclass(frozen=True)
class Mutant:
    """One mutation of one file of the reference solution."""

    file: str
    """The file's path relative to the solution folder."""
    index: int
    """Which site of the file's traversal (see :func:`mutate`)."""
    line: int
    col: int
    operator: str
    """One of :data:`OPERATORS`."""
    original: str
    """The code before the change (one line, shortened)."""
    mutated: str
    """The code after it."""

    @property
    def change(self) -> str:
        """``original -> mutated``, for people."""
        return f"{self.operator}: `{self.original}` -> `{self.mutated}`"

    def to_json(self) -> dict[str, Any]:
        """Plain values for the JSON output."""
        return {**asdict(self), "change": self.change}


class _Sites(ast.NodeTransformer):
    """Walks a module in a fixed order; records each site, or applies the one at ``target``."""

    def __init__(self, source: str, file: str, target: int | None) -> None:
        self.source = source
        self.lines = source.splitlines()
        self.segment_lines = LINE_BREAKS.findall(source)
        """The lines as ``ast.get_source_segment`` splits them, split once (it splits the whole
        source on every call: quadratic in a module's size)."""
        self.file = file
        self.target = target
        self.count = 0
        self.found: list[Mutant] = []

    # --- what is never visited -------------------------------------------------------------

    def _body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        start = 1 if body and _is_docstring(body[0]) else 0
        out = body[:start]
        for statement in body[start:]:
            result = self.visit(statement)
            if result is None:
                continue
            out.extend(result if isinstance(result, list) else [result])
        return out or [ast.Pass()]

    def visit_Module(self, node: ast.Module) -> ast.Module:
        node.body = self._body(node.body)
        return node

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        node.args.defaults = [self.visit(default) for default in node.args.defaults]
        node.args.kw_defaults = [
            None if default is None else self.visit(default) for default in node.args.kw_defaults
        ]
        node.body = self._body(node.body)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._function(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.body = self._body(node.body)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None and not _is_type_alias(node):
            node.value = self.visit(node.value)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        if any(isinstance(t, ast.Name) and t.id in ("__all__", "__slots__") for t in node.targets):
            return node
        return self.generic_visit(node)

    def visit_If(self, node: ast.If) -> ast.AST | None:
        if _is_guard(node.test):
            return node
        node.test = self.visit(node.test)
        node.body = self._body(node.body)
        node.orelse = self._body(node.orelse) if node.orelse else []
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            return self._site(node, "constant", lambda: ast.Constant(not value))
        if isinstance(value, int | float):
            return self._site(node, "constant", lambda: ast.Constant(value + 1))
        return node

    # --- the mutations ---------------------------------------------------------------------

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for position, op in enumerate(node.ops):
            flipped = _COMPARISONS.get(type(op))
            if flipped is None:
                continue

            def flip(position: int = position, flipped: type[ast.cmpop] = flipped) -> ast.AST:
                changed = copy.copy(node)
                changed.ops = [*node.ops[:position], flipped(), *node.ops[position + 1 :]]
                return changed

            result = self._site(node, "comparison", flip)
            if result is not node:
                return result
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        swapped = _BINARY.get(type(node.op))
        if swapped is None or _is_text(node.left) or _is_text(node.right):
            return node
        return self._site(node, "operator", lambda: ast.BinOp(node.left, swapped(), node.right))

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        node.value = self.visit(node.value)
        swapped = _BINARY.get(type(node.op))
        if swapped is None:
            return node
        return self._site(
            node, "operator", lambda: ast.AugAssign(node.target, swapped(), node.value)
        )

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        other: ast.boolop = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return self._site(node, "operator", lambda: ast.BoolOp(other, node.values))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return self._site(node, "operator", lambda: node.operand)
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        self.generic_visit(node)
        call = node.value.value if isinstance(node.value, ast.Await) else node.value
        if isinstance(call, ast.Call):
            return self._site(node, "call", ast.Pass)
        return node

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        self.generic_visit(node)
        if node.exc is None:
            return node
        return self._site(node, "raise", ast.Pass)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        node.body = self._body(node.body)
        if isinstance(node.body[0], ast.Raise) and node.body[0].exc is None:
            return node  # it re-raises already

        def reraise() -> ast.AST:
            changed = copy.copy(node)
            changed.body = [ast.Raise(exc=None, cause=None), *node.body]
            return changed

        return self._site(node, "handler", reraise, mutated="raise")

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.generic_visit(node)
        if node.value is None or (
            isinstance(node.value, ast.Constant) and node.value.value is None
        ):
            return node
        return self._site(node, "return", lambda: ast.Return(ast.Constant(None)))

    # --- bookkeeping -----------------------------------------------------------------------

    def _site(
        self,
        node: ast.AST,
        operator: str,
        make: Callable[[], ast.AST],
        *,
        mutated: str | None = None,
    ) -> ast.AST:
        line = getattr(node, "lineno", 0)
        if 0 < line <= len(self.lines) and PRAGMA in self.lines[line - 1]:
            return node
        index = self.count
        self.count += 1
        if self.target is None:
            replacement = make()
            self.found.append(
                Mutant(
                    file=self.file,
                    index=index,
                    line=line,
                    col=getattr(node, "col_offset", 0) + 1,
                    operator=operator,
                    original=_short(self._segment(node)),
                    mutated=mutated or _short(_describe(replacement)),
                )
            )
            return node
        if index == self.target:
            return ast.copy_location(make(), node)
        return node

    def _segment(self, node: ast.AST) -> str:
        if isinstance(node, ast.ExceptHandler):
            return self.lines[node.lineno - 1].strip()
        return source_segment(self.segment_lines, node) or ast.unparse(node)


LINE_BREAKS = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
"""One line with its ending, split on the same line breaks as ``ast.get_source_segment``."""


_POSITIONS = ("lineno", "end_lineno", "col_offset", "end_col_offset")


def source_segment(lines: list[str], node: ast.AST) -> str | None:
    """``ast.get_source_segment(source, node)`` over the source's lines split beforehand."""
    positions = [getattr(node, name, None) for name in _POSITIONS]
    if not all(isinstance(value, int) for value in positions):
        return None
    first, last, start, end = cast("list[int]", positions)
    first, last = first - 1, last - 1
    if first == last:
        return lines[first].encode()[start:end].decode()
    head = lines[first].encode()[start:].decode()
    tail = lines[last].encode()[:end].decode()
    return "".join([head, *lines[first + 1 : last], tail])


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Pass):
        return "pass"
    return ast.unparse(node)


def _short(text: str, limit: int = 80) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str | bytes)
    )


def _is_type_alias(node: ast.AnnAssign) -> bool:
    annotation = node.annotation
    name = (
        annotation.attr if isinstance(annotation, ast.Attribute) else getattr(annotation, "id", "")
    )
    return name == "TypeAlias"


def _is_guard(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``__name__ == "__main__"``: code the checks never run."""
    if isinstance(test, ast.Name | ast.Attribute):
        name = test.id if isinstance(test, ast.Name) else test.attr
        return name == "TYPE_CHECKING"
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
    )


def find_mutants(source: str, file: str) -> list[Mutant]:
    """Every mutant of one file's ``source``, in traversal order (roughly by line)."""
    sites = _Sites(source, file, target=None)
    sites.visit(ast.parse(source))
    return sites.found


def mutate(source: str, mutant: Mutant) -> str:
    """The source of ``mutant``: the file re-parsed with that one change, unparsed."""
    tree = ast.parse(source)
    sites = _Sites(source, mutant.file, target=mutant.index)
    changed = sites.visit(tree)
    return ast.unparse(ast.fix_missing_locations(changed))


def round_trip(source: str) -> str:
    """The unmutated source through the same parse/unparse as the mutants (the baseline)."""
    return ast.unparse(ast.parse(source))


def solution_files(folder: Path) -> list[Path]:
    """The solution's own Python files (not its tests), sorted."""
    files = []
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder).parts
        if any(part in ("tests", "test", "__pycache__") or part.startswith(".") for part in parts):
            continue
        if path.name.startswith("test_") or path.name in ("conftest.py", "setup.py"):
            continue
        files.append(path)
    return files


def all_mutants(folder: Path) -> list[Mutant]:
    """Every mutant of every file of the solution folder that compiles, by file and line."""
    mutants: list[Mutant] = []
    for path in solution_files(folder):
        source = path.read_text(encoding="utf-8")
        relative = path.relative_to(folder).as_posix()
        for mutant in find_mutants(source, relative):
            try:
                compile(mutate(source, mutant), relative, "exec")
            except SyntaxError:
                continue  # e.g. `return None` where no return is allowed
            mutants.append(mutant)
    return sorted(mutants, key=lambda m: (m.file, m.line, m.col, m.index))


def sample(mutants: Sequence[Mutant], limit: int | None) -> list[Mutant]:
    """At most ``limit`` mutants, evenly spread over the list (so over every file and line).

    Deterministic: the same reference and limit always give the same sample.
    """
    if limit is None or limit >= len(mutants):
        return list(mutants)
    if limit <= 0:
        return []
    return [mutants[(i * len(mutants)) // limit] for i in range(limit)]
