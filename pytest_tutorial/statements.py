"""The statement a line of a module belongs to, as pytest finds it, with one parse per module.

A failure message names the call the check was making (:mod:`.failures`): the statement
around the check's failing line. pytest's own ``TracebackEntry.statement`` parses the
whole module and walks its tree for every such line: 5 ms for a 400-line check module, and
a caching starter's run names 26 calls. Here the statements' first lines are found once
per module source (:func:`_statement_starts`) and each lookup is a bisection, with the
same result as pytest's ``Source.getstatement`` (its ``getstatementrange_ast``: the start
is the last statement start at or before the line, the end the next one, cut to the
statement's own block and stripped of trailing blank and comment lines).
"""

from __future__ import annotations

import ast
import bisect
import functools
import inspect
import tokenize
from collections.abc import Sequence


def statement_at(lines: Sequence[str], lineno: int) -> str:
    """The source of the statement that line ``lineno`` (0-based) of ``lines`` belongs to.

    IndexError when ``lineno`` is not a line of ``lines``; SyntaxError when they are not
    a module Python can parse.
    """
    if not 0 <= lineno < len(lines):
        raise IndexError("lineno out of range")
    starts = _statement_starts("\n".join(lines))
    index = bisect.bisect_right(starts, lineno)
    start = starts[index - 1]  # as pytest: before the first statement, the last one's start
    end = starts[index] if index < len(starts) else len(lines)
    end = _block_end(lines, start, end)
    while end and (not lines[end - 1].lstrip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return "\n".join(lines[start:end])


@functools.lru_cache(maxsize=64)
def _statement_starts(source: str) -> tuple[int, ...]:
    """Where the statements of ``source`` start (0-based, sorted), as pytest counts them.

    A decorated definition also starts at each decorator, and a ``finally`` or ``else``
    part is a statement of its own that starts on the line above its first statement.
    """
    starts: list[int] = []
    for node in ast.walk(ast.parse(source, "source", "exec")):
        if not isinstance(node, ast.stmt | ast.ExceptHandler):
            continue
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            starts.extend(decorator.lineno - 1 for decorator in node.decorator_list)
        starts.append(node.lineno - 1)
        for part in ("finalbody", "orelse"):
            body: list[ast.stmt] | None = getattr(node, part, None)
            if body:
                starts.append(body[0].lineno - 2)
    return tuple(sorted(starts))


def _block_end(lines: Sequence[str], start: int, end: int) -> int:
    """``end``, or sooner where the code block that starts at ``start`` ends before it."""
    if end <= start + 1:
        return end
    finder = inspect.BlockFinder()
    finder.started = bool(lines[start]) and lines[start][0].isspace()
    following = iter(f"{line}\n" for line in lines[start:end])
    try:
        for token in tokenize.generate_tokens(lambda: next(following)):
            finder.tokeneater(*token)
    except (inspect.EndOfBlock, IndentationError):
        return finder.last + start
    except Exception:  # pytest keeps the range whatever else the tokenizer says
        return end
    return end
