"""The checklist at a glance, printed after the run by pytest's terminal reporter.

Sections with automated items show one line per item (status, id, text, points), and
under a item that did not pass, its first problem and hint. Sections a person judges
(Knowledge Check, ...) show one summary line, or every item with ``-v``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pytest_tutorial.histogram import BLOCKS, Histogram
from pytest_tutorial.model import VALIDATION_CHECKLIST
from pytest_tutorial.scoring import ItemResult, Scorecard, Status, Verdict

LABELS = {
    Status.PASSED: ("PASS", {"green": True}),
    Status.FAILED: ("FAIL", {"red": True}),
    Status.ERROR: ("ERROR", {"red": True}),
    Status.TIMEOUT: ("TIMEOUT", {"red": True}),
    Status.SKIPPED: ("SKIP", {"yellow": True}),
    Status.MANUAL: ("MANUAL", {"cyan": True}),
}
MESSAGE_WIDTH = 300


def checklist_lines(
    card: Scorecard, *, verbose: bool = False
) -> Iterator[tuple[str, dict[str, bool]]]:
    """The lines to print and their markup, in document order."""
    sections: dict[str, list[ItemResult]] = {}
    for result in card.items:
        sections.setdefault(result.item.section, []).append(result)
    id_width = max(
        (len(r.item.id) for r in card.items if r.item.section == VALIDATION_CHECKLIST), default=4
    )
    for section, results in sections.items():
        if not verbose and not any(result.automated for result in results):
            yield f"{section}: {len(results)} item(s) to judge yourself (manual)", {}
            continue
        yield section, {"bold": True}
        for result in results:
            label, markup = LABELS[result.status]
            points = f"{result.points}/{result.max_points}" if result.automated else "-"
            yield (
                f"  {label:<8} {result.item.id:<{id_width}}  {result.item.text}  [{points}]",
                markup,
            )
            problem = result.first_problem()
            if problem is not None:
                spec, check = problem
                message = " ".join(check.message.split())[:MESSAGE_WIDTH] or check.status.value
                yield f"           {spec.name}: {message}", {}
                for line in check.counterexample.splitlines():
                    yield f"           {line}", {}
                hint = spec.hint if check.hint is None else check.hint
                for level, text in enumerate(hint.splitlines(), start=1):
                    label = "hint:" if len(spec.hints) < 2 else f"hint {level}/{len(spec.hints)}:"
                    yield f"           {label} {text}", {"yellow": True}
                if spec.step:
                    yield f"           reread: {spec.step.reference()}", {"yellow": True}
                if check.reproduce:
                    yield f"           rerun: {check.reproduce}", {}


def verdict_line(card: Scorecard, report: Path | None) -> tuple[str, dict[str, bool]]:
    """``verdict: VALIDATED  score 20/20  report: ...`` with its colour."""
    verdict = card.verdict.value.upper().replace("_", " ")
    text = f"verdict: {verdict}  score {card.points}/{card.max_points}"
    if report is not None:
        text += f"  report: {report}"
    markup = {"green": True} if card.verdict is Verdict.VALIDATED else {"red": True}
    return text, {**markup, "bold": True}


def performance_lines(
    entries: Sequence[dict[str, Any]], *, ascii_only: bool = False
) -> Iterator[tuple[str, dict[str, bool]]]:
    """Each load test: its verdict and figures, then its latency distribution as a sparkline."""
    if not entries:
        return
    yield "Performance", {"bold": True}
    for entry in entries:
        passed = entry.get("passed")
        label, markup = LABELS[Status.PASSED if passed else Status.FAILED]
        if passed is None:
            label, markup = "INFO", {}
        figures = f"p95 {_ms(entry.get('p95_ms'))}"
        if entry.get("reference_p95_ms") is not None:
            figures += f"  reference {_ms(entry['reference_p95_ms'])}  ratio {entry['ratio']:.2f}x"
        decided = entry.get("decided_by")
        if decided == "relative":
            figures += f"  target <= {entry['target']:g}x reference (relative)"
        elif decided == "absolute":
            figures += f"  target <= {entry['target']:g} ms (absolute)"
        yield f"  {label:<8} {entry.get('name', '')}: {figures}", markup
        for key, who in (("histogram", "yours    "), ("reference_histogram", "reference")):
            picture = entry.get(key)
            if picture:
                shape = Histogram(tuple(picture["edges_ms"]), tuple(picture["counts"]))
                low, high = shape.edges_ms[0], shape.edges_ms[-1]
                line = f"{_ms(low)} |{shape.sparkline(ascii_only=ascii_only)}| {_ms(high)}"
                yield f"           {who} {line}", {}
        if entry.get("note"):
            yield f"           note: {entry['note']}", {"yellow": True}


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
