"""Build the JSON report of a run and write it where nothing in the run can lose it.

The shape is described by ``schema/report.schema.json`` (shipped in the package, see
:data:`SCHEMA_PATH`); every other output format is a view of this one document.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from pytest_tutorial.model import Tutorial
from pytest_tutorial.options import SolutionKind
from pytest_tutorial.report_model import LoadTestEntry, Report
from pytest_tutorial.scoring import Scorecard

SCHEMA_VERSION = "1.1"
SCHEMA_PATH = Path(__file__).parent / "schema" / "report.schema.json"
REPORTED_PACKAGES = (
    "pytest",
    "pytest-tutorial",
    "pytest-benchmark",
    "pytest-asyncio",
    "fakeredis",
    "moto",
    "hypothesis",
)


def build_report(
    tutorial: Tutorial,
    solution: Path,
    solution_kind: SolutionKind,
    card: Scorecard,
    *,
    performance: Sequence[LoadTestEntry],
    problems: Sequence[str],
    started_at: datetime,
    duration_s: float,
) -> Report:
    """The report as plain JSON values, in the schema's shape."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tutorial": {
            "id": tutorial.id,
            "title": tutorial.metadata.title,
            "version": tutorial.metadata.version,
            "validation_method": tutorial.metadata.validation_method.value,
            "path": str(tutorial.path),
        },
        "solution": {"path": str(solution), "kind": solution_kind.value},
        "verdict": card.verdict.value,
        "score": {"points": card.points, "max_points": card.max_points},
        "checklist": [
            {
                "id": result.item.id,
                "text": result.item.text,
                "section": result.item.section,
                "line": result.item.line,
                "automated": result.automated,
                "status": result.status.value,
                "points": result.points,
                "max_points": result.max_points,
                "checks": [
                    {
                        "id": spec.nodeid,
                        "name": spec.name,
                        "status": check.status.value,
                        "message": check.message,
                        "hint": spec.hint if check.hint is None else check.hint,
                        "hint_level": check.hint_level,
                        "hint_levels": len(spec.hints),
                        "counterexample": check.counterexample,
                        "reproduce": check.reproduce,
                        "step": spec.step.reference() if spec.step else None,
                        "points": spec.points,
                        "duration_s": round(check.duration_s, 6),
                    }
                    for spec, check in result.checks
                ],
            }
            for result in card.items
        ],
        "performance": list(performance),
        "problems": list(problems),
        "started_at": started_at.astimezone(UTC).isoformat(timespec="seconds"),
        "duration_s": round(duration_s, 6),
        "versions": versions(),
    }


def versions() -> dict[str, str]:
    """Versions of Python, the platform and the packages a result depends on."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    """:func:`versions`, read once a process.

    The packages a run uses are the ones its process imported, whatever is installed
    later; each lookup scans the installed distributions (about 1 ms).
    """
    found = {"python": platform.python_version(), "platform": sys.platform}
    for name in REPORTED_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def write_report(report: Report, path: Path) -> None:
    """Write atomically (temporary file, then rename) so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".report-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(report, stream, indent=2, allow_nan=False)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
