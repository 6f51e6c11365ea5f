"""The batch's gradebook (CSV and JSON), its Markdown summary, and merging shards.

One row per submission: id, how grading ended, verdict, points, and points per automated
checklist item. ``gradebook.json`` carries enough about the tutorial and the shard to
merge the gradebooks of a CI matrix into one (``pytest-tutorial merge``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_tutorial.report_model import Report

from .outputs import REPORT_NAME, SUBMISSIONS_DIR, write_text

FORMAT = "pytest-tutorial-gradebook"
VERSION = 1
JSON_NAME = "gradebook.json"
CSV_NAME = "gradebook.csv"
SUMMARY_NAME = "summary.md"


class GradebookError(Exception):
    """Gradebooks that cannot be read or merged."""


def row(report: Report, duration_s: float, warnings: Sequence[str] = ()) -> dict[str, Any]:
    """A gradebook row from one submission's report (``warnings``: about what was handed in)."""
    grading = report.get("grading")
    points, max_points = report["score"]["points"], report["score"]["max_points"]
    solution = report["solution"]["path"]
    ident = grading["submission"] if grading else Path(solution).name
    return {
        "submission": ident,
        "source": grading["source"] if grading else solution,
        "grading": grading["outcome"] if grading else "completed",
        "verdict": report["verdict"],
        "points": points,
        "max_points": max_points,
        "percent": round(100 * points / max_points, 1) if max_points else 0.0,
        "items": {i["id"]: i["points"] for i in report["checklist"] if i["automated"]},
        "duration_s": round(duration_s, 3),
        "report": f"{SUBMISSIONS_DIR}/{ident}/{REPORT_NAME}",
        "detail": grading.get("detail", "") if grading else "",
        "warnings": list(warnings),
    }


@dataclass
class Gradebook:
    """Rows plus what they were graded against."""

    tutorial: dict[str, str]
    items: list[dict[str, Any]]
    max_points: int
    rows: list[dict[str, Any]]
    shard: dict[str, int] | None = None
    sandbox: str = ""
    merged_from: int = 0
    folder: Path | None = None
    """The folder it was read from (its rows' report links are relative to it)."""

    def to_json(self) -> dict[str, Any]:
        """gradebook.json's content."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "tutorial": self.tutorial,
            "items": self.items,
            "max_points": self.max_points,
            "shard": self.shard,
            "merged_from": self.merged_from,
            "sandbox": self.sandbox,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "submissions": sorted(self.rows, key=lambda r: str(r["submission"])),
        }

    def to_csv(self) -> str:
        """gradebook.csv's content: a row per submission, a column per automated item."""
        ids = [item["id"] for item in self.items]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        head = ["submission", "grading", "verdict", "points", "max_points", "percent"]
        writer.writerow([*head, *ids, "duration_s", "report", "detail"])
        for entry in sorted(self.rows, key=lambda r: str(r["submission"])):
            writer.writerow(
                [entry[key] for key in head]
                + [entry["items"].get(item_id, 0) for item_id in ids]
                + [entry["duration_s"], entry["report"], entry["detail"]]
            )
        return buffer.getvalue()

    def summary(self, *, elapsed_s: float | None = None) -> str:
        """The batch at a glance, in Markdown (also for ``$GITHUB_STEP_SUMMARY``)."""
        rows = sorted(self.rows, key=lambda r: str(r["submission"]))
        scores = [float(r["points"]) for r in rows]
        validated = sum(1 for r in rows if r["verdict"] == "validated")
        lines = [f"## pytest-tutorial grades: {self.tutorial['id']} ({self.tutorial['title']})", ""]
        facts = [f"{len(rows)} submission(s)", f"{validated} validated"]
        if scores:
            facts.append(f"mean {statistics.mean(scores):.1f}/{self.max_points}")
            facts.append(f"median {statistics.median(scores):g}/{self.max_points}")
        if elapsed_s is not None:
            facts.append(f"graded in {elapsed_s:.1f} s")
        if self.sandbox:
            facts.append(f"containment: {self.sandbox}")
        if self.shard:
            facts.append(f"shard {self.shard['index']}/{self.shard['count']}")
        if self.merged_from:
            facts.append(f"merged from {self.merged_from} gradebook(s)")
        lines += [" · ".join(facts), ""]
        ids = [item["id"] for item in self.items]
        lines.append("| submission | score | verdict | grading | " + " | ".join(ids) + " |")
        lines.append("|---|---:|---|---|" + "---:|" * len(ids))
        maxima = {item["id"]: item["max_points"] for item in self.items}
        for entry in rows:
            cells = [f"{entry['items'].get(i, 0)}/{maxima[i]}" for i in ids]
            lines.append(
                f"| {_cell(entry['submission'])} | {entry['points']}/{entry['max_points']} | "
                f"{entry['verdict']} | {entry['grading']} | " + " | ".join(cells) + " |"
            )
        troubled = [entry for entry in rows if entry["grading"] != "completed"]
        if troubled:
            lines += ["", "### Submissions whose grading did not complete", ""]
            lines += [f"- **{_cell(e['submission'])}**: {_cell(e['detail'])}" for e in troubled]
        warned = [entry for entry in rows if entry.get("warnings")]
        if warned:
            lines += ["", "### Warnings about what was handed in", ""]
            lines += [
                f"- **{_cell(e['submission'])}**: {_cell('; '.join(e['warnings']))}" for e in warned
            ]
        return "\n".join(lines) + "\n"

    def write(self, out: Path, *, elapsed_s: float | None = None) -> str:
        """gradebook.json, gradebook.csv and summary.md into ``out``; returns the summary."""
        write_text(out / JSON_NAME, json.dumps(self.to_json(), indent=2) + "\n")
        write_text(out / CSV_NAME, self.to_csv())
        text = self.summary(elapsed_s=elapsed_s)
        write_text(out / SUMMARY_NAME, text)
        return text


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")[:300]


def append_step_summary(text: str) -> None:
    """Add ``text`` to the GitHub Actions job summary when running there."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as stream:
            stream.write(text + "\n")


def read(path: Path) -> Gradebook:
    """A gradebook.json (or a folder holding one)."""
    file = path / JSON_NAME if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise GradebookError(f"cannot read {file}: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GradebookError(f"{file} is not a pytest-tutorial gradebook")
    return Gradebook(
        tutorial=data["tutorial"],
        items=data["items"],
        max_points=data["max_points"],
        rows=list(data["submissions"]),
        shard=data.get("shard"),
        sandbox=data.get("sandbox", ""),
        folder=file.parent,
    )


def merge(books: Sequence[Gradebook]) -> Gradebook:
    """One gradebook from the shards of one batch; refuses mixed tutorials or duplicates."""
    if not books:
        raise GradebookError("no gradebooks to merge")
    first = books[0]
    seen: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for number, book in enumerate(books):
        if (book.tutorial, book.max_points) != (first.tutorial, first.max_points):
            raise GradebookError(
                f"gradebook {number + 1} is for {book.tutorial['id']} "
                f"{book.tutorial['version']} ({book.max_points} points), the first for "
                f"{first.tutorial['id']} {first.tutorial['version']} ({first.max_points})"
            )
        for entry in book.rows:
            ident = str(entry["submission"])
            if ident in seen:
                raise GradebookError(
                    f"submission {ident} is in gradebooks {seen[ident] + 1} and {number + 1}"
                )
            seen[ident] = number
            rows.append(entry)
    sandboxes = sorted({book.sandbox for book in books if book.sandbox})
    return Gradebook(
        first.tutorial,
        first.items,
        first.max_points,
        rows,
        sandbox=", ".join(sandboxes),
        merged_from=len(books),
    )
