"""``pytest-tutorial merge``: one gradebook from the shards of a CI matrix.

Each argument is a ``gradebook.json`` or a folder holding one (a shard's ``--out``).
Writes ``gradebook.json``, ``gradebook.csv`` and ``summary.md`` into ``--out`` (and the
summary to ``$GITHUB_STEP_SUMMARY`` when set), and copies each submission's folder
(``submissions/<id>/``) next to them, so every report link of the merged gradebook resolves
from ``--out``. A report that is missing keeps a link relative to ``--out`` pointing where
it should have been, with a warning. Exit status 2 when they cannot be merged.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from .outputs import SUBMISSIONS_DIR

NAME = "merge"
HELP = "combine the gradebooks of several grade shards into one"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``merge``."""
    parser.add_argument(
        "gradebooks",
        nargs="+",
        type=Path,
        metavar="GRADEBOOK",
        help="gradebook.json files or folders holding one",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")


def run(args: argparse.Namespace) -> int:
    """Merge, write, and say where."""
    from pytest_tutorial.grading import gradebook

    out = args.out.resolve()
    try:
        books = [gradebook.read(path) for path in args.gradebooks]
        merged = gradebook.merge(books)
        origins = {id(row): book.folder for book in books for row in book.rows}
        for row in merged.rows:
            warning = gather_report(row, origins[id(row)], out)
            if warning:
                print(f"warning: {warning}", file=sys.stderr)
    except gradebook.GradebookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = merged.write(out)
    gradebook.append_step_summary(summary)
    print(
        f"merged {len(books)} gradebook(s), {len(merged.rows)} submission(s): "
        f"{out / gradebook.CSV_NAME}"
    )
    return 0


_SAFE_ID = re.compile(r"[\w][\w.-]*")


def gather_report(row: dict[str, Any], folder: Path | None, out: Path) -> str:
    """Copy a row's submission folder under ``out`` and point its link there.

    Returns a warning when the report is not where its gradebook says (the link then
    points, relative to ``out``, where it should have been). Raises GradebookError for a
    row whose id or link would reach outside its gradebook's folder.
    """
    from pytest_tutorial.grading.gradebook import GradebookError

    ident, link = str(row.get("submission", "")), str(row.get("report", ""))
    if folder is None or not _SAFE_ID.fullmatch(ident):
        raise GradebookError(f"submission id {ident!r} cannot name a folder")
    base = folder.resolve()
    source = (base / link).resolve()
    if not source.is_relative_to(base) or source == base:
        raise GradebookError(f"the report link {link!r} of {ident} leads outside {folder}")
    target = out / SUBMISSIONS_DIR / ident
    if not source.is_file():
        row["report"] = os.path.relpath(source, out)
        return f"{ident}: no report at {source}; its link points there"
    if source.parent.resolve() != target.resolve():
        shutil.copytree(source.parent, target, dirs_exist_ok=True)
    row["report"] = f"{SUBMISSIONS_DIR}/{ident}/{source.name}"
    return ""
