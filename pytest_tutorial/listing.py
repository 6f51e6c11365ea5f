"""``pytest --tutorial-list``: the tutorials found, one line each."""

from __future__ import annotations

import pytest

from pytest_tutorial.discovery import find_tutorials
from pytest_tutorial.document import parse_tutorial
from pytest_tutorial.options import tutorial_roots
from pytest_tutorial.progress import progress_cell


def list_tutorials(config: pytest.Config) -> int:
    """Print id, title, difficulty, estimated time, validation method, progress; return 0.

    It runs before pytest has a terminal reporter, hence plain ``print``.

    A document that does not parse is listed with its error, so one broken tutorial
    does not hide the others.
    """
    rows: list[tuple[str, ...]] = []
    for name, source in find_tutorials(tutorial_roots(config)).items():
        try:
            meta = parse_tutorial(source.document, name).metadata
        except pytest.UsageError as error:
            rows.append((name, f"(cannot be read: {error})", "", "", "", ""))
            continue
        rows.append(
            (
                name,
                meta.title,
                meta.difficulty.value,
                meta.estimated_time,
                meta.validation_method.value,
                progress_cell(config.rootpath, name),
            )
        )
    if not rows:
        print("no tutorials found")
        return 0
    header = ("id", "title", "difficulty", "time", "validation", "progress")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0
