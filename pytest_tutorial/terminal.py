"""The checklist at a glance: one renderer for the terminal, ``watch`` and grading outputs.

:class:`ChecklistRenderer` turns a report (:mod:`pytest_tutorial.report_model`) into lines
and their markup, the way pytest-xdist's reporter turns events into lines: the plugin's
terminal summary writes them with colours, ``watch`` draws them on its screen, and the
grading outputs put them in Gradescope's and GitHub's summaries as plain text.

Sections with automated items show one line per item (status, id, text, points). Under an
item that did not pass, its first failing check is shown in detail (message, hypothesis'
counterexample, hint, the step to reread, the command to rerun it) and every other failing
check on one line; ``verbose`` shows each of them in detail. Sections a person judges
(Knowledge Check, ...) show one summary line, or every item when ``verbose``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_tutorial.failures import ELLIPSIS, IMPORT_FAILURE, shorten
from pytest_tutorial.histogram import BLOCKS, Histogram
from pytest_tutorial.model import VALIDATION_CHECKLIST
from pytest_tutorial.report_model import (
    CheckEntry,
    ItemEntry,
    LoadTestEntry,
    Report,
    StatusName,
    checks_of,
)

LABELS: dict[StatusName, tuple[str, dict[str, bool]]] = {
    "passed": ("PASS", {"green": True}),
    "failed": ("FAIL", {"red": True}),
    "error": ("ERROR", {"red": True}),
    "timeout": ("TIMEOUT", {"red": True}),
    "skipped": ("SKIP", {"yellow": True}),
    "manual": ("MANUAL", {"cyan": True}),
}
NEW_LABEL = ("NEW", {"green": True, "bold": True})
"""``watch``: an item that passes for the first time in this loop."""
MESSAGE_WIDTH = 300
"""Characters of a detailed message shown unless verbose."""
INDENT = " " * 11
CUT_NOTE = f"(a message ending in {ELLIPSIS} was cut: -v shows messages whole)"
Line = tuple[str, dict[str, bool]]
_NOT_A_PROBLEM = ("passed", "skipped")
UNIMPORTABLE = "the solution could not be imported (above)"


def problems(item: ItemEntry) -> list[CheckEntry]:
    """The item's checks that ran and did not pass, in collection order."""
    return [check for check in item["checks"] if check["status"] not in _NOT_A_PROBLEM]


def detailed_checks(report: Report, *, verbose: bool) -> set[str]:
    """The checks shown in detail (their hint on screen).

    The first problem of each item, or every problem when verbose. A check that failed only
    because the solution did not import is never one: its hint would not help.
    """
    shown: set[str] = set()
    for item in report["checklist"]:
        ids = [c["id"] for c in problems(item) if not c["message"].startswith(IMPORT_FAILURE)]
        shown.update(ids if verbose else ids[:1])
    return shown


@dataclass(frozen=True)
class ChecklistRenderer:
    """How to draw a report: detail, width, characters, and what ``watch`` adds."""

    verbose: bool = False
    width: int = 100
    """Lines listing a further failing check are cut to this; detailed messages are not."""
    ascii_only: bool = False
    manual_summary: bool = True
    """Sections a person judges as one summary line (False: leave them out unless verbose)."""
    newly_passed: frozenset[str] = frozenset()
    item_notes: Mapping[str, str] = field(default_factory=dict)
    """Text after an item's line, by item id (``watch``: when it first passed)."""
    import_failure_above: bool = False
    """Whether why the solution could not be imported was printed above the checklist."""

    def lines(
        self, report: Report, report_path: Path | None = None, *, checklist: bool = True
    ) -> Iterator[Line]:
        """The checklist (unless ``checklist`` is False), the load tests, the verdict line."""
        if checklist:
            yield from self.checklist(report)
        yield from self.performance(report["performance"])
        for problem in report.get("problems", []):
            yield f"problem: {problem}", {"red": True}
        yield self.verdict(report, report_path)

    def checklist(self, report: Report) -> Iterator[Line]:
        """Every section's lines, in document order."""
        sections: dict[str, list[ItemEntry]] = {}
        for item in report["checklist"]:
            sections.setdefault(item["section"], []).append(item)
        validation = [i for i in report["checklist"] if i["section"] == VALIDATION_CHECKLIST]
        id_width = max((len(item["id"]) for item in validation), default=4)
        detailed = detailed_checks(report, verbose=self.verbose)
        failed_imports = [
            c for _, c in checks_of(report) if c["message"].startswith(IMPORT_FAILURE)
        ]
        told = failed_imports[0]["id"] if failed_imports and not self.import_failure_above else ""
        cut = False
        manual: list[str] = []
        for section, items in sections.items():
            if not self.verbose and not any(item["automated"] for item in items):
                manual.append(f"{section} {len(items)}")
                continue
            yield section, {"bold": True}
            for item in items:
                yield self._item_line(item, id_width)
                lines, was_cut = self._problem_lines(item, detailed, told)
                cut = cut or was_cut
                yield from lines
        if manual and self.manual_summary:
            yield f"To judge yourself (manual items; -v lists them): {', '.join(manual)}", {}
        if cut:
            yield CUT_NOTE, {}

    def _item_line(self, item: ItemEntry, id_width: int) -> Line:
        label, markup = LABELS[item["status"]]
        if item["id"] in self.newly_passed and item["status"] == "passed":
            label, markup = NEW_LABEL
        points = f"{item['points']}/{item['max_points']}" if item["automated"] else "-"
        text = f"  {label:<8} {item['id']:<{id_width}}  {item['text']}  [{points}]"
        total = len(item["checks"])
        not_run = sum(1 for check in item["checks"] if check["status"] == "skipped")
        if item["automated"] and not_run and item["status"] != "skipped":
            text += f"  ({total - not_run} of {total} checks ran)"
        note = self.item_notes.get(item["id"])
        if note:
            text += f"  {note}"
        return text, markup

    def _problem_lines(
        self, item: ItemEntry, detailed: set[str], import_told: str
    ) -> tuple[list[Line], bool]:
        """The item's failing checks; ``import_told``: the check that says why none imported."""
        lines: list[Line] = []
        cut = import_said = False
        for check in problems(item):
            if check["message"].startswith(IMPORT_FAILURE):
                if not import_said:  # in full once, then pointing up to it
                    why = check["message"] if check["id"] == import_told else UNIMPORTABLE
                    lines.append((f"{INDENT}not run: {why}", {}))
                    import_said = True
            elif check["id"] in detailed:
                shown, was_cut = self._detail(check)
                cut = cut or was_cut
                lines += shown
            else:
                text = f"{INDENT}- {check['name']}: {_one_line(check)}"
                cut = cut or len(text) > self.width
                lines.append((shorten(text, self.width), {}))
        return lines, cut

    def _detail(self, check: CheckEntry) -> tuple[list[Line], bool]:
        """A failing check in detail, and whether its message had to be cut."""
        message = _one_line(check)
        shown = message if self.verbose else shorten(message, MESSAGE_WIDTH)
        lines: list[Line] = [(f"{INDENT}{check['name']}: {shown}", {})]
        lines += [(f"{INDENT}{line}", {}) for line in check["counterexample"].splitlines()]
        levels = check["hint_levels"]
        for level, text in enumerate(check["hint"].splitlines(), start=1):
            label = "hint:" if levels < 2 else f"hint {level}/{levels}:"
            lines.append((f"{INDENT}{label} {text}", {"yellow": True}))
        if check["step"]:
            lines.append((f"{INDENT}reread: {check['step']}", {"yellow": True}))
        if check["reproduce"]:
            lines.append((f"{INDENT}rerun: {check['reproduce']}", {}))
        return lines, shown != message

    def verdict(self, report: Report, report_path: Path | None = None) -> Line:
        """``verdict: VALIDATED  score 20/20  report: ...`` with its colour."""
        verdict = report["verdict"]
        score = report["score"]
        text = f"verdict: {verdict.upper().replace('_', ' ')}"
        text += f"  score {score['points']}/{score['max_points']}"
        if verdict == "incomplete":
            text += "  (only the selected checks ran)"
        if report_path is not None:
            text += f"  report: {report_path}"
        markup = {"green": True} if verdict in ("validated", "incomplete") else {"red": True}
        if verdict == "incomplete":
            markup = {"yellow": True}
        return text, {**markup, "bold": True}

    def performance(self, entries: Sequence[LoadTestEntry]) -> Iterator[Line]:
        """Each load test: its verdict and figures, then its latencies as a sparkline."""
        if not entries:
            return
        yield "Performance", {"bold": True}
        for entry in entries:
            passed = entry.get("passed")
            label, markup = LABELS["passed" if passed else "failed"]
            if passed is None:
                label, markup = "INFO", {}
            yield f"  {label:<8} {entry.get('name', '')}: {_figures(entry)}", markup
            pictures = (
                ("yours    ", entry.get("histogram")),
                ("reference", entry.get("reference_histogram")),
            )
            for who, picture in pictures:
                if picture:
                    shape = Histogram(tuple(picture["edges_ms"]), tuple(picture["counts"]))
                    low, high = shape.edges_ms[0], shape.edges_ms[-1]
                    drawn = shape.sparkline(ascii_only=self.ascii_only)
                    yield f"{INDENT}{who} {_ms(low)} |{drawn}| {_ms(high)}", {}
            if entry.get("note"):
                yield f"{INDENT}note: {entry.get('note')}", {"yellow": True}


def _one_line(check: CheckEntry) -> str:
    message = " ".join(check["message"].split()) or check["status"]
    if check["status"] == "failed":
        return message
    return f"{check['status'].upper()}: {message}"


def _figures(entry: LoadTestEntry) -> str:
    figures = f"p95 {_ms(entry.get('p95_ms'))}"
    reference, ratio = entry.get("reference_p95_ms"), entry.get("ratio")
    if reference is not None and ratio is not None:
        figures += f"  reference {_ms(reference)}  ratio {ratio:.2f}x"
    decided, bound = entry.get("decided_by"), entry.get("target")
    if bound is None:
        return figures
    if decided == "relative":
        figures += f"  target <= {bound:g}x reference (relative)"
    elif decided == "absolute":
        figures += f"  target <= {bound:g} ms (absolute)"
    elif decided == "floor":
        figures += f"  at or below the {bound:g} ms floor (latency that cannot matter)"
    elif decided == "ceiling":
        figures += f"  over the {bound:g} ms ceiling"
    return figures


def _ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value < 1:
        return f"{value * 1000:.1f} us"
    return f"{value:.2f} ms"


def can_encode(encoding: str | None) -> bool:
    """Whether the block characters of the sparkline survive this output encoding."""
    try:
        "".join(BLOCKS).encode(encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return False
    return True
