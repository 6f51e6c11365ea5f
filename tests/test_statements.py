"""The statement around a line is the one pytest's ``Source.getstatement`` finds, line for line."""

from __future__ import annotations

import ast

import pytest
from _pytest._code.source import Source, getstatementrange_ast

from pytest_tutorial import statements
from pytest_tutorial.statements import statement_at
from tests.conftest import REPO

TRICKY = '''"""A module docstring."""
# a comment before the first statement

import os


@decorator(
    with_arguments=1,
)
@another
def check(service):  # a comment
    value = service.get(
        "k",
        default=None,
    )  # a trailing comment

    # a comment between statements
    try:
        service.set("k", 1)
    except KeyError as error:
        raise ValueError("x") from error
    else:
        service.touch("k")
    finally:
        # a comment above the first statement of a finally part
        service.close()
    for item in range(3):
        if item:
            pass
        elif item > 1:
            continue
        else:
            break
    with open(os.devnull) as handle, open(os.devnull):
        handle.read()
    return value; other = 1


class Holder:
    attribute = [
        1,
        2,
    ]

    async def method(self):
        async with self.lock:
            await self.call(
                1
            )
'''


def pytests_statement(lines: list[str], lineno: int, tree: ast.Module | None = None) -> str:
    """What pytest's traceback entry shows for ``lineno`` of a module of these lines.

    ``tree``: the module already parsed, which pytest then walks without parsing again.
    """
    source = Source()
    source.lines = lines
    if tree is None:
        return str(source.getstatement(lineno))
    _, start, end = getstatementrange_ast(lineno, source, astnode=tree)
    return str(source[start:end])


def source_lines(text: str) -> list[str]:
    """The lines as pytest reads a module's source (``findsource``: each right-stripped)."""
    return [line.rstrip() for line in text.splitlines(keepends=True)]


def test_every_line_of_a_tricky_module_gives_pytests_statement() -> None:
    lines = source_lines(TRICKY)
    for lineno in range(len(lines)):
        assert statement_at(lines, lineno) == pytests_statement(lines, lineno), (
            f"line {lineno + 1}: {lines[lineno]!r}"
        )


def test_the_bundled_check_modules_give_pytests_statements() -> None:
    """Every seventh line of every bundled check module (pytest takes 1 to 5 ms a line)."""
    compared = 0
    for path in sorted((REPO / "pytest_tutorial" / "tutorials").glob("*/check_*.py")):
        text = path.read_text(encoding="utf-8")
        lines, tree = source_lines(text), ast.parse(text)
        for lineno in range(0, len(lines), 7):
            assert statement_at(lines, lineno) == pytests_statement(lines, lineno, tree), (
                f"{path.name}:{lineno + 1}: {lines[lineno]!r}"
            )
            compared += 1
    assert compared > 600


def test_a_line_outside_the_module_is_an_index_error() -> None:
    lines = source_lines(TRICKY)
    with pytest.raises(IndexError):
        statement_at(lines, len(lines))
    with pytest.raises(IndexError):
        statement_at(lines, -1)


def test_a_module_is_parsed_once_for_all_its_lines() -> None:
    lines = source_lines(TRICKY + "\n# parsed once\n")
    statements._statement_starts.cache_clear()
    for lineno in range(len(lines)):
        statement_at(lines, lineno)
    assert statements._statement_starts.cache_info().misses == 1
