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

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pytest_tutorial.errors import usage_error
from pytest_tutorial.model import (
    VALIDATION_CHECKLIST,
    AwsResources,
    ChecklistItem,
    Difficulty,
    DynamoTable,
    KeyAttribute,
    Metadata,
    PerformanceTarget,
    Phase,
    SolutionContract,
    Step,
    Tutorial,
    ValidationMethod,
    ValidationSpec,
)

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_PHASE = re.compile(r"^Phase\s+(\d+)\s*:\s*(.+?)(?:\s*\([^)]*\))?$")
_STEP = re.compile(r"^Step\s+(\d+)\s*:\s*(.+)$")
_CHECKBOX = re.compile(r"^\s*[-*]\s+\[[ xX]\]\s+(.*)$")
_TRAILING_COMMENT = re.compile(r"\s*<!--(.*?)-->\s*$")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_AWS_NAMES = {  # what AWS accepts for each kind of resource name
    "s3_buckets": re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
    "dynamodb_tables": re.compile(r"^[A-Za-z0-9_.-]{3,255}$"),
    "sqs_queues": re.compile(r"^(?=.{1,80}$)[A-Za-z0-9_-]+(\.fifo)?$"),
}

REQUIRED_FIELDS = (
    "title",
    "summary",
    "difficulty",
    "estimated_time",
    "version",
    "validation_method",
)
STATUSES = ("draft", "published", "review_needed", "archived")
VALIDATION_KEYS = ("solution", "performance", "timeout_s", "aws", "min_kill_rate")
AWS_KEYS = ("region", "s3_buckets", "dynamodb_tables", "sqs_queues")
TABLE_KEYS = ("name", "key_schema")
KEY_SCHEMA_KEYS = ("partition", "sort")
KEY_ATTRIBUTE_KEYS = ("name", "type")
SOLUTION_KEYS = ("module", "exports")
PERFORMANCE_KEYS = (
    "requests",
    "concurrency",
    "warmup",
    "p95_ms",
    "relative_p95",
    "p95_floor_ms",
    "rounds",
    "max_error_rate",
)

T = TypeVar("T")


def parse_tutorial(path: Path, tutorial_id: str | None = None) -> Tutorial:
    """Read and parse the document at ``path``; its id defaults to its folder's name."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise usage_error(f"cannot read the tutorial document: {error}", path=path) from None
    return parse_text(text, path, tutorial_id or path.parent.name)


def parse_text(text: str, path: Path, tutorial_id: str) -> Tutorial:
    """Parse a document's text; ``path`` is only used to locate errors."""
    lines = text.splitlines()
    front, key_lines, body_start = _split_front_matter(lines, path)
    metadata = _metadata(front, key_lines, path)
    validation = None
    if metadata.validation_method is ValidationMethod.AUTOMATED:
        validation = _validation(front.get("validation"), key_lines, path)
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


def _validation(block: object, key_lines: dict[tuple[str, ...], int], path: Path) -> ValidationSpec:
    def error(keys: tuple[str, ...], problem: str, fix: str = "") -> pytest.UsageError:
        line = (
            key_lines.get(keys) or key_lines.get(keys[:-1]) or key_lines.get(("validation_method",))
        )
        return usage_error(problem, path=path, line=line, fix=fix)

    if not isinstance(block, dict):
        raise error(
            ("validation",),
            "an automated tutorial needs a 'validation' block in its front matter",
            "add 'validation:' with 'solution: {module: ..., exports: [...]}'",
        )
    _only_keys(block, VALIDATION_KEYS, ("validation",), error)
    solution = block.get("solution")
    if not isinstance(solution, dict):
        raise error(
            ("validation", "solution"),
            "validation.solution must be a mapping",
            "give 'module:' (the file name without .py) and 'exports:'",
        )
    _only_keys(solution, SOLUTION_KEYS, ("validation", "solution"), error)
    module = solution.get("module")
    if not isinstance(module, str) or not _IDENTIFIER.match(module):
        raise error(
            ("validation", "solution", "module"),
            f"validation.solution.module {module!r} is not a Python module name",
        )
    exports = solution.get("exports", [])
    if not isinstance(exports, list) or not all(
        isinstance(name, str) and name.isidentifier() for name in exports
    ):
        raise error(
            ("validation", "solution", "exports"),
            "validation.solution.exports must be a list of Python names",
        )
    performance = block.get("performance") or {}
    if not isinstance(performance, dict):
        raise error(("validation", "performance"), "validation.performance must be a mapping")
    _only_keys(performance, PERFORMANCE_KEYS, ("validation", "performance"), error)
    where = ("validation", "performance")
    target = PerformanceTarget(
        requests=_number(performance, "requests", int, 100, 1, where, error),
        concurrency=_number(performance, "concurrency", int, 10, 1, where, error),
        warmup=_number(performance, "warmup", int, 10, 0, where, error),
        p95_ms=_optional_number(performance, "p95_ms", where, error),
        relative_p95=_optional_number(performance, "relative_p95", where, error),
        p95_floor_ms=_optional_number(performance, "p95_floor_ms", where, error),
        rounds=_number(performance, "rounds", int, 5, 1, where, error),
        max_error_rate=_number(performance, "max_error_rate", float, 0.0, 0.0, where, error),
    )
    if target.concurrency > target.requests:
        raise error((*where, "concurrency"), "validation.performance.concurrency exceeds requests")
    if target.max_error_rate > 1:
        raise error((*where, "max_error_rate"), "max_error_rate is a fraction between 0 and 1")
    floor, ceiling = target.p95_floor_ms, target.p95_ms
    if floor is not None and ceiling is not None and floor >= ceiling:
        raise error(
            (*where, "p95_floor_ms"),
            f"validation.performance.p95_floor_ms ({floor:g}) must be below p95_ms ({ceiling:g})",
            "the floor is where latency stops mattering, the ceiling where it always fails",
        )
    min_kill_rate = _optional_number(block, "min_kill_rate", ("validation",), error)
    if min_kill_rate is not None and min_kill_rate > 1:
        raise error(
            ("validation", "min_kill_rate"),
            f"validation.min_kill_rate must be a fraction between 0 and 1, got {min_kill_rate:g}",
            "write 0.8 for 80% of the reference's mutants",
        )
    return ValidationSpec(
        solution=SolutionContract(module=module, exports=tuple(exports)),
        performance=target,
        timeout_s=_optional_number(block, "timeout_s", ("validation",), error),
        aws=_aws(block["aws"], error) if "aws" in block else None,
        min_kill_rate=min_kill_rate,
    )


def _aws(block: object, error: Callable[..., Exception]) -> AwsResources:
    """The ``validation.aws`` block: a region and the S3, DynamoDB and SQS resources."""
    where = ("validation", "aws")
    if not isinstance(block, dict):
        raise error(where, "validation.aws must be a mapping", f"give {', '.join(AWS_KEYS)}")
    _only_keys(block, AWS_KEYS, where, error)
    region = block.get("region", "us-east-1")
    if not isinstance(region, str) or not _REGION.match(region):
        raise error((*where, "region"), f"validation.aws.region {region!r} is not an AWS region")
    lists: dict[str, list[Any]] = {}
    for kind in _AWS_NAMES:
        lists[kind] = block.get(kind) or []
        if not isinstance(lists[kind], list):
            raise error((*where, kind), f"validation.aws.{kind} must be a list")
    tables = tuple(
        _table(entry, (*where, "dynamodb_tables", str(index)), error)
        for index, entry in enumerate(lists["dynamodb_tables"])
    )
    _resource_names("dynamodb_tables", [table.name for table in tables], error, "name")
    return AwsResources(
        region=region,
        s3_buckets=_resource_names("s3_buckets", lists["s3_buckets"], error),
        dynamodb_tables=tables,
        sqs_queues=_resource_names("sqs_queues", lists["sqs_queues"], error),
    )


def _resource_names(
    kind: str, names: list[Any], error: Callable[..., Exception], field: str = ""
) -> tuple[str, ...]:
    """Check that ``names`` are valid AWS names of ``kind``, each declared once."""
    for index, name in enumerate(names):
        at = ("validation", "aws", kind, str(index), *([field] if field else []))
        if not isinstance(name, str) or not _AWS_NAMES[kind].match(name):
            raise error(at, f"validation.aws.{kind}: {name!r} is not a valid name")
        if name in names[:index]:
            raise error(at, f"validation.aws.{kind}: {name!r} is declared twice")
    return tuple(names)


def _table(entry: object, where: tuple[str, ...], error: Callable[..., Exception]) -> DynamoTable:
    if not isinstance(entry, dict):
        raise error(where, "a DynamoDB table is a mapping", "give 'name:' and 'key_schema:'")
    _only_keys(entry, TABLE_KEYS, where, error)
    name = entry.get("name")
    if not isinstance(name, str):
        raise error((*where, "name"), "a DynamoDB table needs a 'name:'")
    schema = entry.get("key_schema")
    if not isinstance(schema, dict) or "partition" not in schema:
        raise error(
            (*where, "key_schema"),
            f"table {name!r} needs a key_schema with a partition key",
            "key_schema: {partition: {name: id, type: S}, sort: {name: ..., type: N}}",
        )
    _only_keys(schema, KEY_SCHEMA_KEYS, (*where, "key_schema"), error)
    keys: list[KeyAttribute | None] = []
    for role in KEY_SCHEMA_KEYS:
        attribute = schema.get(role)
        at = (*where, "key_schema", role)
        if attribute is None:
            keys.append(None)
            continue
        if not isinstance(attribute, dict):
            raise error(at, f"the {role} key is a mapping", "{name: id, type: S}")
        _only_keys(attribute, KEY_ATTRIBUTE_KEYS, at, error)
        attribute_name, kind = attribute.get("name"), attribute.get("type")
        if not isinstance(attribute_name, str) or not attribute_name or kind not in ("S", "N", "B"):
            raise error(at, f"the {role} key needs a name and a type of S, N or B")
        keys.append(KeyAttribute(attribute_name, kind))
    partition, sort = keys
    assert partition is not None
    return DynamoTable(name, partition, sort)


def _only_keys(
    block: Mapping[str, object],
    allowed: tuple[str, ...],
    where: tuple[str, ...],
    error: Callable[..., Exception],
) -> None:
    for key in block:
        if key not in allowed:
            raise error(
                (*where, str(key)),
                f"unknown field '{'.'.join((*where, str(key)))}'",
                f"valid fields here: {', '.join(allowed)}",
            )


def _number(
    block: Mapping[str, object],
    key: str,
    kind: Callable[[Any], T],
    default: T,
    minimum: float,
    where: tuple[str, ...],
    error: Callable[..., Exception],
) -> T:
    value = block.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (kind is int and not isinstance(value, int))
    ):
        raise error((*where, key), f"{'.'.join((*where, key))} must be a number, got {value!r}")
    if value < minimum:
        raise error((*where, key), f"{'.'.join((*where, key))} must be at least {minimum}")
    return kind(value)


def _optional_number(
    block: Mapping[str, object], key: str, where: tuple[str, ...], error: Callable[..., Exception]
) -> float | None:
    if block.get(key) is None:
        return None
    value = _number(block, key, float, 0.0, 0.0, where, error)
    if value <= 0:
        raise error((*where, key), f"{'.'.join((*where, key))} must be positive")
    return value


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
