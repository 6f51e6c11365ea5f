"""Read a tutorial's front matter ``validation`` block into :class:`~.model.ValidationSpec`.

The block says where the learner's code lives and what it exports (``solution``), the load
test and its targets (``performance``), the time limit of a check (``timeout_s``), the AWS
resources every check starts with (``aws``) and the share of mutants ``verify`` must see
killed (``min_kill_rate``). Every mistake is a usage error naming the field's line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pytest_tutorial.errors import usage_error
from pytest_tutorial.model import (
    AwsResources,
    DynamoTable,
    KeyAttribute,
    PerformanceTarget,
    SolutionContract,
    ValidationSpec,
)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_AWS_NAMES = {  # what AWS accepts for each kind of resource name
    "s3_buckets": re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
    "dynamodb_tables": re.compile(r"^[A-Za-z0-9_.-]{3,255}$"),
    "sqs_queues": re.compile(r"^(?=.{1,80}$)[A-Za-z0-9_-]+(\.fifo)?$"),
}

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


def read_validation(
    block: object, key_lines: dict[tuple[str, ...], int], path: Path
) -> ValidationSpec:
    """The ``validation`` block, checked field by field (``key_lines``: each key's line)."""

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
