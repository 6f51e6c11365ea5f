"""The GitHub Classroom workflow's report: the checklist as the job summary, and the points.

``python -m pytest_tutorial.export.classroom_report OUT`` reads the report that
``pytest-tutorial grade --out OUT`` wrote for the repository and

- appends the checklist (each automated item with its points and, when it failed, why and
  the hint) to ``$GITHUB_STEP_SUMMARY``, and prints it to the log;
- writes ``result=BASE64`` to ``$GITHUB_OUTPUT``: the JSON that GitHub Classroom's
  autograding reporter reads from ``<STEP_ID>_RESULTS`` (``max_score``, ``status``
  ``pass``/``fail``/``error`` and ``tests`` with a ``score`` each; the reporter sums the
  scores and posts "Points X/Y" for Classroom), one test per checklist item.

A run that left no report (the grader could not run) reports an error with 0 points.
Exit status 0 once the outputs are written, 2 for a usage mistake.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

from pytest_tutorial.grading.outputs import REPORT_NAME, SUBMISSIONS_DIR, truncate
from pytest_tutorial.report_model import ItemEntry, Report, read_report
from pytest_tutorial.terminal import ChecklistRenderer

FENCE = "`" * 3
"""A Markdown code fence (a message holding one could not end the block early)."""
REPORTER_MESSAGE_LIMIT = 2000
"""Characters of an item's message kept in the reporter's result."""


def load_report(out: Path) -> Report | None:
    """The one report under ``out``, or None when grading left none."""
    found = sorted((out / SUBMISSIONS_DIR).glob(f"*/{REPORT_NAME}"))
    return read_report(found[0]) if found else None


def _why(item: ItemEntry) -> str:
    """The first failing check's message and hint, on one line."""
    for check in item["checks"]:
        if check["status"] == "passed":
            continue
        parts = [str(check["message"]).strip().splitlines()[0] if check["message"] else ""]
        parts[0] = parts[0] or f"{check['name']}: {check['status']}"
        if check["hint"]:
            parts.append(f"hint: {check['hint']}")
        if check["step"]:
            parts.append(f"reread: {check['step']}")
        return " · ".join(parts)
    return ""


def result(report: Report | None, detail: str = "") -> dict[str, Any]:
    """What the autograding reporter reads: one test per automated checklist item."""
    if report is None:
        message = detail or "the grader left no report"
        return {
            "version": 1,
            "status": "error",
            "max_score": 0,
            "tests": [{"name": "grading", "status": "error", "score": 0, "message": message}],
        }
    tests = []
    for item in report["checklist"]:
        if not item["automated"]:
            continue
        passed = item["points"] == item["max_points"] and item["status"] == "passed"
        tests.append(
            {
                "name": f"[{item['id']}] {item['text']}",
                "status": "pass" if passed else "fail",
                "score": item["points"],
                "message": truncate(_why(item), REPORTER_MESSAGE_LIMIT),
            }
        )
    score = report["score"]
    return {
        "version": 1,
        "status": "pass" if score["points"] == score["max_points"] else "fail",
        "max_score": score["max_points"],
        "tests": tests,
    }


def summary(report: Report | None, detail: str = "") -> str:
    """The checklist in Markdown for the job summary: a table, then the terminal's view."""
    if report is None:
        return (
            "## pytest-tutorial: not graded\n\n"
            f"The grader left no report ({detail or 'see the log of the grading step'}). "
            "This is a problem of the grading setup, not of your code: tell your instructor.\n"
        )
    score, tutorial = report["score"], report["tutorial"]
    lines = [
        f"## {tutorial['title']}: {score['points']}/{score['max_points']} points "
        f"({report['verdict']})",
        "",
        "| | checklist item | points | why not yet |",
        "|---|---|---:|---|",
    ]
    for item in report["checklist"]:
        if not item["automated"]:
            continue
        mark = "✅" if item["status"] == "passed" else "❌"
        lines.append(
            f"| {mark} | {_cell(item['text'])} | {item['points']}/{item['max_points']} "
            f"| {_cell(_why(item))} |"
        )
    grading = report.get("grading")
    if grading is not None and grading["outcome"] != "completed":
        lines += ["", f"**Grading {grading['outcome']}:** {_cell(grading.get('detail', ''))}"]
    for warning in grading.get("warnings", []) if grading is not None else []:
        lines.append(f"- warning: {_cell(warning)}")
    manual = [item["text"] for item in report["checklist"] if not item["automated"]]
    if manual:
        lines += ["", f"{len(manual)} checklist item(s) are for you to judge yourself."]
    drawn = [text.replace(FENCE, "'" * 3) for text, _ in ChecklistRenderer().lines(report)]
    lines += ["", "<details><summary>The checklist in detail</summary>", "", FENCE + "text"]
    lines += [*drawn, FENCE, "", "</details>"]
    return "\n".join(lines) + "\n"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")[:500]


def encoded(data: dict[str, Any]) -> str:
    """The reporter's input: base64 of the JSON, on one line."""
    return base64.b64encode(json.dumps(data).encode("utf-8")).decode("ascii")


def _append(variable: str, text: str) -> None:
    target = os.environ.get(variable)
    if target:
        with open(target, "a", encoding="utf-8") as stream:
            stream.write(text)


def main(argv: list[str] | None = None) -> int:
    """Write the summary and the output; 0 once written, 2 without an OUT folder."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m pytest_tutorial.export.classroom_report OUT", file=sys.stderr)
        return 2
    detail = ""
    try:
        report = load_report(Path(args[0]))
    except (OSError, ValueError) as error:
        report, detail = None, f"its report could not be read: {error}"
    data = result(report, detail)
    text = summary(report, detail)
    print(text, end="")
    points = sum(test["score"] for test in data["tests"])
    print(f"Points {points}/{data['max_score']}")
    _append("GITHUB_STEP_SUMMARY", text + "\n")
    _append("GITHUB_OUTPUT", f"result={encoded(data)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
