"""What ``pytest-tutorial watch`` shows after each run: the checklist, or why it could not run.

A progress bar over the automated items, the checklist as the terminal draws it (newly
passed items marked, each item's first pass dated from the progress file), or, when pytest
could not run the checks, the lines of its output that say why.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pytest_tutorial.report_model import Report

if TYPE_CHECKING:
    from pytest_tutorial.watch import Loop, RunOutcome

BAR_WIDTH = 12
MESSAGE_WIDTH = 160


class Screen:
    """What the learner sees after each run."""

    def __init__(self, stream: TextIO, *, clear: bool) -> None:
        self.stream = stream
        self.clear = clear and stream.isatty() and os.name != "nt"  # VT100 codes

    def show(self, loop: Loop, outcome: RunOutcome, changed: list[str]) -> None:
        """The whole screen for one run."""
        lines = self.lines(loop, outcome, changed)
        if self.clear:
            self.stream.write("\033[2J\033[H")
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()

    def lines(self, loop: Loop, outcome: RunOutcome, changed: list[str]) -> list[str]:
        """The screen's text (plain, so tests and logs can read it)."""
        from pytest_tutorial.progress import find_progress

        when = datetime.now().strftime("%H:%M:%S")
        took = f"{outcome.duration_s:.1f} s"
        lines = [f"pytest-tutorial watch {loop.name}: run {loop.runs} at {when} ({took})"]
        if changed:
            shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
            lines.append(f"changed: {shown}")
        report = outcome.report
        if report is None:
            lines.append(f"pytest could not run the checks (exit status {outcome.exit_code}):")
            lines += ["  " + line for line in _error_lines(outcome.output)]
        else:
            progress = (
                find_progress(loop.name, loop.solution, Path.cwd()) if loop.solution else None
            )
            lines += _checklist_lines(report, progress, loop.newly_passed)
        if loop.solution is None:
            lines.append(
                "watch: stopped, there is no solution folder to watch: make one as said above, "
                "or pass --solution PATH"
            )
        else:
            lines.append(f"watching {loop.solution} for changes (Ctrl-C to stop)")
        return lines


def _checklist_lines(report: Report, progress: Any, newly_passed: set[str]) -> list[str]:
    """A progress bar over the automated items, then the checklist as the terminal draws it."""
    from pytest_tutorial.model import VALIDATION_CHECKLIST
    from pytest_tutorial.terminal import ChecklistRenderer

    items = [item for item in report["checklist"] if item["automated"]]
    passed = sum(item["status"] == "passed" for item in items)
    filled = round(BAR_WIDTH * passed / len(items)) if items else 0
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    notes = {}
    for item in items:
        entry = progress.item(item["id"]) if progress is not None else None
        if entry is not None and entry.first_passed:
            notes[item["id"]] = f"first passed {_when(entry.first_passed)}"
    renderer = ChecklistRenderer(
        width=max(60, shutil.get_terminal_size((MESSAGE_WIDTH, 24)).columns),
        manual_summary=False,
        newly_passed=frozenset(newly_passed),
        item_notes=notes,
    )
    heading = f"{VALIDATION_CHECKLIST}  [{bar}] {passed}/{len(items)} items passed"
    return [heading if text == VALIDATION_CHECKLIST else text for text, _ in renderer.lines(report)]


def _when(stamp: str) -> str:
    try:
        moment = datetime.fromisoformat(stamp).astimezone()
    except ValueError:
        return stamp
    if moment.date() == datetime.now().astimezone().date():
        return moment.strftime("%H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")


def _error_lines(output: str) -> list[str]:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    errors = [n for n, line in enumerate(lines) if line.startswith("ERROR")]
    return lines[errors[0] :][:12] if errors else lines[-12:]
