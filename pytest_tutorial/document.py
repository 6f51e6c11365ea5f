"""Parse a tutorial's Markdown document (YAML front matter and body) into the typed model.

Structure the parser relies on, all of it from the template:

- front matter between two ``---`` lines at the top;
- ``### Phase N: Title (M minutes)`` and ``#### Step N: Title`` headings;
- checklists as ``- [ ] text`` lines; an item may end with an HTML comment naming its id
  and whether a person judges it: ``<!-- id: core -->``, ``<!-- id: review, manual -->``.
  Items without an id comment get one made from their text.

Lines inside fenced code blocks are code, never structure. Every mistake is a
``pytest.UsageError`` (see :func:`~pytest_tutorial.errors.usage_error`) naming the file and line.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.errors import usage_error
from pytest_tutorial.model import (
    VALIDATION_CHECKLIST,
    ChecklistItem,
    Difficulty,
    Metadata,
    Phase,
    Step,
    Tutorial,
    ValidationMethod,
)
from pytest_tutorial.validation_block import read_validation

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_PHASE = re.compile(r"^Phase\s+(\d+)\s*:\s*(.+?)(?:\s*\([^)]*\))?$")
_STEP = re.compile(r"^Step\s+(\d+)\s*:\s*(.+)$")
_CHECKBOX = re.compile(r"^\s*[-*]\s+\[[ xX]\]\s+(.*)$")
_TRAILING_COMMENT = re.compile(r"\s*<!--(.*?)-->\s*$")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")

REQUIRED_FIELDS = (
    "title",
    "summary",
    "difficulty",
    "estimated_time",
    "version",
    "validation_method",
)
STATUSES = ("draft", "published", "review_needed", "archived")


def parse_tutorial(path: Path, tutorial_id: str | None = None) -> Tutorial:
    """Read and parse the document at ``path``; its id defaults to its folder's name."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise usage_error(f"cannot read the tutorial document: {error}", path=path) from None
    return _parsed(text, path, tutorial_id or path.parent.name)


@functools.lru_cache(maxsize=16)
def _parsed(text: str, path: Path, tutorial_id: str) -> Tutorial:
    """:func:`parse_text`, once per document text in a process; an error is raised each time.

    A warm server's warm-up run parses the tutorial; the children it forks to run the
    checks (each graded submission, each ``watch`` rerun, each mutant of ``verify``) then
    find it parsed instead of reading its YAML front matter twice again (7 to 10 ms).
    """
    return parse_text(text, path, tutorial_id)


def parse_text(text: str, path: Path, tutorial_id: str) -> Tutorial:
    """Parse a document's text; ``path`` is only used to locate errors."""
    lines = text.splitlines()
    front, key_lines, body_start = _split_front_matter(lines, path)
    metadata = _metadata(front, key_lines, path)
    validation = None
    if metadata.validation_method is ValidationMethod.AUTOMATED:
        validation = read_validation(front.get("validation"), key_lines, path)
    phases, checklist = _body(lines, body_start, path)
    return Tutorial(
        id=tutorial_id,
        path=path,
        metadata=metadata,
        validation=validation,
        phases=phases,
        checklist=checklist,
        front_matter_lines={key[0]: line for key, line in key_lines.items() if len(key) == 1},
    )


# --- front matter -------------------------------------------------------------------------


def _split_front_matter(
    lines: list[str], path: Path
) -> tuple[dict[str, Any], dict[tuple[str, ...], int], int]:
    """Return the front matter mapping, the line of every key path, and the body's first index."""
    import yaml  # deferred: only needed once a tutorial runs

    if not lines or lines[0].strip() != "---":
        raise usage_error(
            "the document has no front matter",
            path=path,
            line=1,
            fix="start the file with a '---' line, the template's YAML fields, and another '---'",
        )
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise usage_error(
            "the front matter is never closed", path=path, line=1, fix="add a '---' line after it"
        )
    source = "\n".join(lines[1:end])
    try:
        node = yaml.compose(source, Loader=yaml.SafeLoader)
        data = yaml.safe_load(source)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(error, "problem", None) or str(error)
        raise usage_error(
            f"front matter is not valid YAML: {problem}", path=path, line=line
        ) from None
    if not isinstance(data, dict):
        raise usage_error("front matter must be a mapping of fields", path=path, line=2)
    key_lines: dict[tuple[str, ...], int] = {}
    _collect_key_lines(node, (), key_lines)
    return data, key_lines, end + 1


def _collect_key_lines(node: Any, prefix: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*prefix, str(key_node.value))
            out[key] = key_node.start_mark.line + 2  # +1 for 1-based, +1 for the opening '---'
            _collect_key_lines(value_node, key, out)
    elif isinstance(node, yaml.SequenceNode):  # list entries are keyed by their index
        for index, value_node in enumerate(node.value):
            key = (*prefix, str(index))
            out[key] = value_node.start_mark.line + 2
            _collect_key_lines(value_node, key, out)


def _metadata(front: dict[str, Any], key_lines: dict[tuple[str, ...], int], path: Path) -> Metadata:
    for name in REQUIRED_FIELDS:
        if front.get(name) in (None, ""):
            raise usage_error(
                f"front matter field '{name}' is missing or empty",
                path=path,
                line=2,
                fix=f"add '{name}:' as in the template",
            )

    def field_error(name: str, problem: str, fix: str = "") -> pytest.UsageError:
        return usage_error(problem, path=path, line=key_lines.get((name,)), fix=fix)

    status = str(front.get("status", "published"))
    if status not in STATUSES:
        raise field_error("status", f"status '{status}' is not one of {', '.join(STATUSES)}")
    tags = front.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise field_error("tags", "tags must be a list of strings")
    known = {*REQUIRED_FIELDS, "status", "tags"}
    return Metadata(
        title=str(front["title"]),
        summary=str(front["summary"]),
        difficulty=_enum(Difficulty, front["difficulty"], field_error, "difficulty"),
        estimated_time=str(front["estimated_time"]),
        version=str(front["version"]),
        status=status,
        validation_method=_enum(
            ValidationMethod, front["validation_method"], field_error, "validation_method"
        ),
        tags=tuple(tags),
        extra={key: value for key, value in front.items() if key not in known},
    )


def _enum(
    kind: type[Any], value: object, error: Callable[[str, str, str], Exception], name: str
) -> Any:
    try:
        return kind(str(value))
    except ValueError:
        valid = " | ".join(member.value for member in kind)
        raise error(name, f"{name} '{value}' is not valid", f"use one of {valid}") from None


# --- body ---------------------------------------------------------------------------------


def _body(
    lines: list[str], start: int, path: Path
) -> tuple[tuple[Phase, ...], tuple[ChecklistItem, ...]]:
    phases: list[tuple[int, str, int, list[Step]]] = []
    items: list[ChecklistItem] = []
    seen_ids: dict[str, int] = {}
    step_lines: dict[int, int] = {}
    section = ""
    in_fence: str | None = None
    for index in range(start, len(lines)):
        line, number = lines[index], index + 1
        fence = _FENCE.match(line)
        if fence:
            marker = fence.group(1)
            if in_fence is None:
                in_fence = marker
            elif in_fence == marker:
                in_fence = None
            continue
        if in_fence:
            continue
        heading = _HEADING.match(line)
        if heading:
            title = _strip_emoji(heading.group(2))
            section = title
            phase = _PHASE.match(title)
            step = _STEP.match(title)
            if phase:
                phases.append((int(phase.group(1)), phase.group(2).strip(), number, []))
            elif step:
                step_number = int(step.group(1))
                if step_number in step_lines:
                    raise usage_error(
                        f"Step {step_number} appears twice "
                        f"(first at line {step_lines[step_number]})",
                        path=path,
                        line=number,
                        fix="number the steps 1, 2, 3, ... across phases",
                    )
                if not phases:
                    raise usage_error(
                        f"Step {step_number} comes before any '### Phase N: Title' heading",
                        path=path,
                        line=number,
                    )
                step_lines[step_number] = number
                phase_number, phase_title, _, steps = phases[-1]
                steps.append(
                    Step(
                        step_number,
                        step.group(2).strip(),
                        number,
                        f"Phase {phase_number}: {phase_title}",
                    )
                )
            continue
        checkbox = _CHECKBOX.match(line)
        if checkbox:
            items.append(_item(checkbox.group(1), section, number, path, seen_ids))
    if in_fence:
        raise usage_error(
            "a fenced code block is never closed",
            path=path,
            line=len(lines),
            fix=f"close it with a line of {in_fence}",
        )
    return (
        tuple(Phase(n, title, line, tuple(steps)) for n, title, line, steps in phases),
        tuple(items),
    )


def _item(raw: str, section: str, line: int, path: Path, seen_ids: dict[str, int]) -> ChecklistItem:
    text, item_id, manual = raw.strip(), "", False
    comment = _TRAILING_COMMENT.search(text)
    if comment:
        text = text[: comment.start()].strip()
        item_id, manual = _parse_item_comment(comment.group(1), path, line)
    if not text:
        raise usage_error("a checklist item has no text", path=path, line=line)
    if item_id:
        if item_id in seen_ids:
            raise usage_error(
                f"checklist id '{item_id}' is used twice (first at line {seen_ids[item_id]})",
                path=path,
                line=line,
                fix="give every item its own id",
            )
    else:
        item_id = base = _slug(text)
        suffix = 2
        while item_id in seen_ids:
            item_id, suffix = f"{base}-{suffix}", suffix + 1
    seen_ids[item_id] = line
    return ChecklistItem(id=item_id, text=text, section=section, line=line, explicit_manual=manual)


def _parse_item_comment(comment: str, path: Path, line: int) -> tuple[str, bool]:
    item_id, manual = "", False
    for part in (p.strip() for p in comment.split(",")):
        if part == "manual":
            manual = True
        elif part.startswith("id:"):
            item_id = part[3:].strip()
            if not _ID.match(item_id):
                raise usage_error(
                    f"checklist id '{item_id}' is not valid",
                    path=path,
                    line=line,
                    fix="use lower-case letters, digits, '-' and '_', e.g. <!-- id: core -->",
                )
        elif part:
            raise usage_error(
                f"cannot read the checklist comment '<!--{comment}-->'",
                path=path,
                line=line,
                fix="write <!-- id: NAME --> or <!-- id: NAME, manual -->",
            )
    return item_id, manual


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)[:60].rstrip("-") or "item"


def _strip_emoji(title: str) -> str:
    """Drop leading symbols (the template's emoji) from a heading."""
    return re.sub(r"^[^\w\[(]+", "", title).strip()


__all__ = ["VALIDATION_CHECKLIST", "parse_text", "parse_tutorial"]
