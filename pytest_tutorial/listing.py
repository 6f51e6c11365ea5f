"""``pytest --tutorial-list``: the tutorials found, one line each, and how to start one."""

from __future__ import annotations

import pytest

from pytest_tutorial.discovery import find_tutorials
from pytest_tutorial.document import parse_tutorial
from pytest_tutorial.options import SolutionKind, solution_folder, tutorial_roots
from pytest_tutorial.progress import progress_cell
from pytest_tutorial.start import PROGRAM


def list_tutorials(config: pytest.Config) -> int:
    """Print id, title, difficulty, estimated time, validation method, progress; return 0.

    The progress is that of the folder ``pytest --tutorial=NAME`` checks from here. Below
    the table: the command that lays out a tutorial's starter code.

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
                _progress(config, name),
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
    print()
    print(f"`{PROGRAM} NAME [DIR]` lays out a tutorial's starter code in a folder of your own")
    print("(default ./NAME); then, in that folder: `pytest --tutorial=NAME`")
    return 0


def _progress(config: pytest.Config, name: str) -> str:
    solution, kind = solution_folder(config, name)
    if kind is SolutionKind.REFERENCE:
        return "-"  # runs of the reference are not recorded
    return progress_cell(config.rootpath, name, solution)
