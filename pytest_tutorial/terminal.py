"""The checklist at a glance, printed after the run by pytest's terminal reporter.

Sections with automated items show one line per item (status, id, text, points). Under an
item that did not pass, its first failing check is shown in detail (message, hypothesis'
counterexample, hint, the step to reread, the command to rerun it) and every other failing
check on one line; ``-v`` shows each of them in detail. Sections a person judges
(Knowledge Check, ...) show one summary line, or every item with ``-v``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pytest_tutorial.failures import ELLIPSIS, IMPORT_FAILURE, shorten
from pytest_tutorial.histogram import BLOCKS, Histogram
from pytest_tutorial.model import VALIDATION_CHECKLIST
from pytest_tutorial.scoring import CheckResult, CheckSpec, ItemResult, Scorecard, Status, Verdict

LABELS = {
    Status.PASSED: ("PASS", {"green": True}),
    Status.FAILED: ("FAIL", {"red": True}),
    Status.ERROR: ("ERROR", {"red": True}),
    Status.TIMEOUT: ("TIMEOUT", {"red": True}),
    Status.SKIPPED: ("SKIP", {"yellow": True}),
    Status.MANUAL: ("MANUAL", {"cyan": True}),
}
MESSAGE_WIDTH = 300
"""Characters of a detailed message shown without ``-v``."""
INDENT = " " * 11
CUT_NOTE = f"(a message ending in {ELLIPSIS} was cut: -v shows messages whole)"
Line = tuple[str, dict[str, bool]]


def detailed_checks(card: Scorecard, *, verbose: bool) -> set[str]:
    """The checks shown in detail (their hint on screen): the first problem of each item,
    or every problem with ``-v``. A check that failed only because the solution did not
    import is never one: its hint would not help."""
    shown: set[str] = set()
    for result in card.items:
        problems = [
            spec.nodeid
            for spec, check in result.problems()
            if not check.message.startswith(IMPORT_FAILURE)
        ]
        shown.update(problems if verbose else problems[:1])
    return shown


def checklist_lines(card: Scorecard, *, verbose: bool = False, width: int = 100) -> Iterator[Line]:
    """The lines to print and their markup, in document order."""
    sections: dict[str, list[ItemResult]] = {}
    for result in card.items:
        sections.setdefault(result.item.section, []).append(result)
    id_width = max(
        (len(r.item.id) for r in card.items if r.item.section == VALIDATION_CHECKLIST), default=4
    )
    detailed = detailed_checks(card, verbose=verbose)
    cut = False
    manual: list[str] = []
    for section, results in sections.items():
        if not verbose and not any(result.automated for result in results):
            manual.append(f"{section} {len(results)}")
            continue
        yield section, {"bold": True}
        for result in results:
            yield _item_line(result, id_width)
            import_said = False
            for spec, check in result.problems():
                if check.message.startswith(IMPORT_FAILURE):
                    if not import_said:
                        yield f"{INDENT}not run: the solution could not be imported (above)", {}
                        import_said = True
                elif spec.nodeid in detailed:
                    lines, was_cut = _detail(spec, check, verbose=verbose)
                    cut = cut or was_cut
                    yield from lines
                else:
                    text = f"{INDENT}- {spec.name}: {_one_line(check)}"
                    cut = cut or len(text) > width
                    yield shorten(text, width), {}
    if manual:
        yield f"To judge yourself (manual items; -v lists them): {', '.join(manual)}", {}
    if cut:
        yield CUT_NOTE, {}


def _item_line(result: ItemResult, id_width: int) -> Line:
    label, markup = LABELS[result.status]
    points = f"{result.points}/{result.max_points}" if result.automated else "-"
    text = f"  {label:<8} {result.item.id:<{id_width}}  {result.item.text}  [{points}]"
    total = len(result.checks)
    if result.automated and result.not_run and result.status is not Status.SKIPPED:
        text += f"  ({total - result.not_run} of {total} checks ran)"
    return text, markup


def _one_line(check: CheckResult) -> str:
    message = " ".join(check.message.split()) or check.status.value
    if check.status is Status.FAILED:
        return message
    return f"{check.status.value.upper()}: {message}"


def _detail(spec: CheckSpec, check: CheckResult, *, verbose: bool) -> tuple[list[Line], bool]:
    """A failing check in detail, and whether its message had to be cut."""
    message = _one_line(check)
    shown = message if verbose else shorten(message, MESSAGE_WIDTH)
    lines: list[Line] = [(f"{INDENT}{spec.name}: {shown}", {})]
    lines += [(f"{INDENT}{line}", {}) for line in check.counterexample.splitlines()]
    hint = spec.hint if check.hint is None else check.hint
    for level, text in enumerate(hint.splitlines(), start=1):
        label = "hint:" if len(spec.hints) < 2 else f"hint {level}/{len(spec.hints)}:"
        lines.append((f"{INDENT}{label} {text}", {"yellow": True}))
    if spec.step:
        lines.append((f"{INDENT}reread: {spec.step.reference()}", {"yellow": True}))
    if check.reproduce:
        lines.append((f"{INDENT}rerun: {check.reproduce}", {}))
    return lines, shown != message


def verdict_line(card: Scorecard, report: Path | None) -> tuple[str, dict[str, bool]]:
    """``verdict: VALIDATED  score 20/20  report: ...`` with its colour."""
    verdict = card.verdict.value.upper().replace("_", " ")
    text = f"verdict: {verdict}  score {card.points}/{card.max_points}"
    if card.verdict is Verdict.INCOMPLETE:
        text += "  (only the selected checks ran)"
    if report is not None:
        text += f"  report: {report}"
    markup = {"green": True} if card.verdict.succeeded else {"red": True}
    if card.verdict is Verdict.INCOMPLETE:
        markup = {"yellow": True}
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
        decided, bound = entry.get("decided_by"), entry.get("target")
        if decided == "relative":
            figures += f"  target <= {bound:g}x reference (relative)"
        elif decided == "absolute":
            figures += f"  target <= {bound:g} ms (absolute)"
        elif decided == "floor":
            figures += f"  at or below the {bound:g} ms floor (latency that cannot matter)"
        elif decided == "ceiling":
            figures += f"  over the {bound:g} ms ceiling"
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
