"""What a learner is told about a failed check: a message, and a traceback on request.

A check fails either on its own assertion, whose message the check's author wrote, or
because the learner's code raised. For the latter the message names the call the check
made (its source line), what was raised, and where in the learner's code. Tracebacks are
off by default in a tutorial run; with ``--tb`` they keep only the learner's frames and
the check's calling line (in short form, so the check's marker and its hints, which
include the answer, never show), never the harness' or the libraries' frames.
"""

from __future__ import annotations

import functools
import linecache
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_tutorial.solution import shown
from pytest_tutorial.statements import statement_at

if TYPE_CHECKING:  # pytest's traceback types, reached at run time through ExceptionInfo only
    from _pytest._code.code import Traceback, TracebackEntry

MESSAGE_LIMIT = 2000
"""Characters of a check's message kept in the report."""
ELLIPSIS = "…"
IMPORT_FAILURE = "could not import the solution: "
"""How the message of a check that needed a solution which did not import begins."""
REPORT_CUT_NOTE = " (cut: rerun this check with --tb=short to see the whole error)"
"""Ends a message cut to :data:`MESSAGE_LIMIT`: where the rest can be seen."""
CALL_LIMIT = 160
_ASSIGNMENT = re.compile(r"^\s*[\w.\[\], ]+\s*(?::[^=]+)?=(?!=)\s*")


def shorten(text: str, limit: int, *, rest: str = "") -> str:
    """``text`` cut to ``limit`` characters; a cut text ends with an ellipsis and ``rest``."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS + rest


def failure_message(
    excinfo: pytest.ExceptionInfo[BaseException], *, solution: Path, checks: Path
) -> str:
    """The check's own words, or what the learner's code raised, in which call, and where.

    ``KeyError: 'k' (in service.get('k'), at cache_service.py:80)``: the exception first,
    so a one-line summary cut to the terminal's width still says what went wrong.

    ``solution`` is the learner's folder, ``checks`` the tutorial's folder (check modules
    and their helpers). Exception notes (hypothesis' counterexample) are left out: the
    report keeps them apart.
    """
    error = excinfo.value
    raised_in = _innermost(excinfo.traceback, solution)
    if isinstance(error, AssertionError) and raised_in is None:
        return _assertion_text(error)
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if isinstance(error, pytest.fail.Exception) or raised_in is None:
        return text
    call = _innermost(excinfo.traceback, checks)
    where = f"at {shown(Path(raised_in.path))}:{raised_in.lineno + 1}"
    if call is None:
        return f"{text} ({where})"
    return f"{text} (in {_call_text(call)}, {where})"


def _assertion_text(error: AssertionError) -> str:
    """An assertion's message without pytest's introspection lines.

    A bare ``assert`` keeps pytest's explanation, which is then the only explanation.
    """
    lines = str(error).splitlines() or ["AssertionError"]
    if not lines[0].startswith("assert "):
        explanation = next((n for n, line in enumerate(lines) if line.startswith("assert ")), None)
        lines = lines[:explanation]
    return "\n".join(lines)


def _innermost(traceback: Traceback, folder: Path) -> TracebackEntry | None:
    """The innermost traceback entry whose file is inside ``folder``."""
    root = _resolved(folder)
    for entry in reversed(traceback):
        if _inside(entry, root):
            return entry
    return None


def _call_text(entry: TracebackEntry) -> str:
    """The statement a check's frame was running, without an assignment target."""
    try:
        statement = " ".join(statement_at(_source_lines(entry), entry.lineno).split())
    except (IndexError, OSError, SyntaxError):  # the file is gone, out of reach or changed
        return f"line {entry.lineno + 1} of the check"
    return shorten(_ASSIGNMENT.sub("", statement, count=1), CALL_LIMIT)


def _source_lines(entry: TracebackEntry) -> list[str]:
    """The lines of the entry's module, each right-stripped, as pytest's ``fullsource`` has them.

    Read through :mod:`linecache` directly: pytest's way (``inspect.findsource``) first looks
    for the module that holds the code, a walk over every imported module that missed for
    the check modules each time (2 ms a failure).
    """
    filename = entry.frame.code.raw.co_filename
    linecache.checkcache(filename)
    lines = [line.rstrip() for line in linecache.getlines(filename)]
    if not lines:
        raise OSError(f"no source for {filename}")
    return lines


def counterexample(error: BaseException, fixtures: Sequence[str]) -> str:
    """Hypothesis' shrunk example from a failed property check's notes, without fixtures."""
    notes = [
        note
        for note in getattr(error, "__notes__", ())
        if isinstance(note, str) and note.startswith(("Falsifying example", "Failing test case"))
    ]
    if not notes:
        return ""
    fixture_argument = re.compile(rf"^\s+({'|'.join(map(re.escape, fixtures)) or '(?!)'})=")
    lines = [line for line in notes[0].splitlines() if not fixture_argument.match(line)]
    return shorten("\n".join(lines), MESSAGE_LIMIT)


def first_lines(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """The last few non-blank lines of a longer text (pytest's own report of a failure)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return shorten("\n".join(lines[-5:]), limit)


def learner_frames(
    solution: Path, checks: Path
) -> Callable[[pytest.ExceptionInfo[BaseException]], Traceback]:
    """A ``tbfilter`` for ``ExceptionInfo.getrepr``: the learner's frames and the check's call.

    Frames of the check modules are shown in short form (one line), so the check's source,
    marker and hints stay hidden; every other frame (the harness, pytest, libraries) is
    dropped. When nothing is left the innermost frame is kept, so there is always a place.
    """
    learner, tutorial = _resolved(solution), _resolved(checks)

    def keep(excinfo: pytest.ExceptionInfo[BaseException]) -> Traceback:
        entries: list[TracebackEntry] = []
        for entry in excinfo.traceback:
            if _inside(entry, learner):
                entries.append(entry)
            elif _inside(entry, tutorial):
                entries.append(entry.with_repr_style("short"))
        if not entries and len(excinfo.traceback):
            entries.append(excinfo.traceback[-1].with_repr_style("short"))
        return type(excinfo.traceback)(entries)

    return keep


def _resolved(folder: Path) -> Path:
    try:
        return folder.resolve()
    except OSError:
        return folder


def _inside(entry: TracebackEntry, root: Path) -> bool:
    try:
        filename = entry.frame.code.raw.co_filename
        real = _real_path(filename) if os.path.isabs(filename) else Path(filename).resolve()
        return real.is_relative_to(root)
    except (OSError, TypeError, ValueError):
        return False


@functools.lru_cache(maxsize=4096)
def _real_path(filename: str) -> Path:
    """An absolute file name, resolved once per run.

    Every failure's traceback passes through the same files (pytest's, the channel's): a
    few dozen of them for each failed check.
    """
    return Path(filename).resolve()
