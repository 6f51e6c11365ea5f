"""Errors the harness reports to a person instead of a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest


def usage_error(
    message: str, *, path: Path | str | None = None, line: int | None = None, fix: str = ""
) -> pytest.UsageError:
    """A ``pytest.UsageError`` for a mistake in a tutorial, a check module or an option.

    The text names the file and line (``path:line: message``) and, on a second line, the
    fix. pytest prints a ``UsageError`` as one ``ERROR:`` line and exits with status 4, so
    whoever made the mistake sees where it is and how to mend it, never a traceback.
    """
    where = ""
    if path is not None:
        where = f"{path}:{line}: " if line is not None else f"{path}: "
    text = f"{where}{message}"
    if fix:
        text += f"\n  fix: {fix}"
    return pytest.UsageError(text)
