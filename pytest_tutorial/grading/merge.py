"""``pytest-tutorial merge``: one gradebook from the shards of a CI matrix.

Each argument is a ``gradebook.json`` or a folder holding one (a shard's ``--out``).
Writes ``gradebook.json``, ``gradebook.csv`` and ``summary.md`` into ``--out`` (and the
summary to ``$GITHUB_STEP_SUMMARY`` when set). Exit status 2 when they cannot be merged.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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

    try:
        books = [gradebook.read(path) for path in args.gradebooks]
        merged = gradebook.merge(books)
    except gradebook.GradebookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = merged.write(args.out)
    gradebook.append_step_summary(summary)
    out = args.out.resolve()
    print(
        f"merged {len(books)} gradebook(s), {len(merged.rows)} submission(s): "
        f"{out / gradebook.CSV_NAME}"
    )
    return 0
