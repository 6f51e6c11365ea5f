"""Per-submission files, all views of the one report: JSON report, Gradescope, JUnit XML.

Written by the parent into ``OUT/submissions/<submission>/``, which no child can see (a
folder of their own, so that no submission's name can collide with the batch's files):
``report.json`` (the contract report), ``results.json`` (Gradescope's autograder format),
``junit.xml`` and ``output.txt`` (what the child printed, up to the output cap). Every
string is made safe for each format first (:func:`.untrusted.scrub`).
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

from pytest_tutorial.report import write_report
from pytest_tutorial.report_model import CheckEntry, ItemEntry, Report, checks_of
from pytest_tutorial.terminal import ChecklistRenderer

from . import untrusted

OUTPUT_LIMIT = 8000
"""Characters of a Gradescope test's output kept; the rest is cut with a visible notice."""
SUBMISSIONS_DIR = "submissions"
"""The folder of ``OUT`` holding one folder per submission."""
REPORT_NAME = "report.json"
GRADESCOPE_NAME = "results.json"
JUNIT_NAME = "junit.xml"
OUTPUT_NAME = "output.txt"


def truncate(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[output truncated: {len(text) - limit} more characters not shown]"


def _check_text(item: ItemEntry, check: CheckEntry) -> str:
    lines = [f"{check['status'].upper()}: {item['text']}"]
    if check["message"]:
        lines.append(check["message"])
    if check["status"] != "passed":
        if check.get("hint"):
            lines.append(f"hint: {check['hint']}")
        if check.get("step"):
            lines.append(f"reread: {check['step']}")
    return "\n".join(lines)


def gradescope(report: Report) -> dict[str, Any]:
    """Gradescope's ``results.json``: one test per check, scored by the check's points.

    The top-level output is the checklist as the terminal draws it (manual items summed up).
    """
    tests = []
    for number, (item, check) in enumerate(checks_of(report), start=1):
        points = int(check.get("points", 0))
        passed = check["status"] == "passed"
        tests.append(
            {
                "name": f"[{item['id']}] {check['name']}",
                "number": str(number),
                "score": points if passed else 0,
                "max_score": points,
                "status": "passed" if passed else "failed",
                "output": truncate(_check_text(item, check)),
                "tags": [item["id"]],
                "visibility": "visible",
            }
        )
    summary = [text for text, _ in ChecklistRenderer().lines(report)]
    grading = report.get("grading")
    if grading is not None and grading["outcome"] != "completed":
        summary.insert(0, f"grading {grading['outcome']}: {grading.get('detail', '')}")
    return {
        "score": report["score"]["points"],
        "max_score": report["score"]["max_points"],
        "execution_time": round(float(report["duration_s"]), 3),
        "output": truncate("\n".join(summary)),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def junit(report: Report) -> str:
    """JUnit XML: a testcase per check (classname: the checklist item), score as properties."""
    checks = checks_of(report)
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    suite = ElementTree.Element(
        "testsuite",
        name=f"tutorial.{report['tutorial']['id']}",
        tests=str(len(checks)),
        time=f"{float(report['duration_s']):.3f}",
    )
    properties = ElementTree.SubElement(suite, "properties")
    grading = report.get("grading")
    for name, value in (
        ("submission", grading["submission"] if grading else report["solution"]["path"]),
        ("verdict", report["verdict"]),
        ("points", report["score"]["points"]),
        ("max_points", report["score"]["max_points"]),
        ("grading_outcome", grading["outcome"] if grading else ""),
    ):
        ElementTree.SubElement(properties, "property", name=name, value=str(value))
    for item, check in checks:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=f"{report['tutorial']['id']}.{item['id']}",
            name=check["name"],
            time=f"{float(check['duration_s']):.3f}",
        )
        status, text = check["status"], truncate(_check_text(item, check))
        if status == "failed":
            counts["failures"] += 1
            element = ElementTree.SubElement(case, "failure", message=_first_line(check))
            element.text = text
        elif status in ("error", "timeout"):
            counts["errors"] += 1
            element = ElementTree.SubElement(case, "error", message=_first_line(check), type=status)
            element.text = text
        elif status == "skipped":
            counts["skipped"] += 1
            ElementTree.SubElement(case, "skipped", message=_first_line(check))
    for key, value in counts.items():
        suite.set(key, str(value))
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _first_line(check: CheckEntry) -> str:
    lines = str(check["message"]).strip().splitlines()
    return (lines[0] if lines else check["status"])[:300]


def write_text(path: Path, text: str) -> None:
    """Write atomically, like the report, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def submission_folder(out: Path, ident: str) -> Path:
    """Where a submission's files go under the batch's output folder."""
    return out / SUBMISSIONS_DIR / ident


def write_submission(folder: Path, report: Report, output: bytes, truncated: bool) -> None:
    """Every per-submission file into ``folder`` (replacing anything there).

    The report and the child's output are written here; the other formats by their plugins
    (:mod:`.formats`: Gradescope, JUnit, and any an installed package adds).
    """
    from .formats import write_formats  # the formats use this module's writers

    report = untrusted.scrub(report)
    write_report(report, folder / REPORT_NAME)
    write_formats(report, folder)
    text = output.decode("utf-8", errors="replace")
    if truncated:
        text += "\n[output truncated at the output cap]\n"
    write_text(folder / OUTPUT_NAME, text)
