"""The checklist at a glance, printed after the run by pytest's terminal reporter.

Sections with automated items show one line per item (status, id, text, points), and
under a item that did not pass, its first problem and hint. Sections a person judges
(Knowledge Check, ...) show one summary line, or every item with ``-v``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
                if spec.hint:
                    yield f"           hint: {spec.hint}", {"yellow": True}
                if spec.step:
                    yield f"           reread: {spec.step.reference()}", {"yellow": True}


def verdict_line(card: Scorecard, report: Path | None) -> tuple[str, dict[str, bool]]:
    """``verdict: VALIDATED  score 20/20  report: ...`` with its colour."""
    verdict = card.verdict.value.upper().replace("_", " ")
    text = f"verdict: {verdict}  score {card.points}/{card.max_points}"
    if report is not None:
        text += f"  report: {report}"
    markup = {"green": True} if card.verdict is Verdict.VALIDATED else {"red": True}
    return text, {**markup, "bold": True}
