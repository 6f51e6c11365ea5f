"""Fast unit tests of the front matter's ``validation.aws`` block."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tutorial.discovery import BUNDLED_ROOT
from pytest_tutorial.document import parse_text, parse_tutorial
from pytest_tutorial.model import AwsResources, DynamoTable, KeyAttribute, Tutorial

FRONT = """---
title: "Demo"
summary: "A demo"
difficulty: "advanced"
estimated_time: "30 min"
version: "1.0"
validation_method: "automated"
validation:
  solution:
    module: "demo"
    exports: ["Demo"]
  aws:
    region: "eu-west-1"
    s3_buckets: ["demo-bodies", "demo.logs"]
    dynamodb_tables:
      - name: "documents"
        key_schema:
          partition: {name: "owner", type: "S"}
          sort: {name: "version", type: "N"}
      - name: "sessions"
        key_schema:
          partition: {name: "id", type: "B"}
    sqs_queues: ["events", "orders.fifo"]
---

### Phase 1: Foundation (15 minutes)

#### Step 1: Create Base Structure

### Validation Checklist
- [ ] All core functionality works correctly <!-- id: core -->
"""
TABLE_LINE = 16
"""The line of the first ``- name:`` entry of ``dynamodb_tables`` above."""


def parse(text: str) -> Tutorial:
    return parse_text(text, Path("demo/tutorial.md"), "demo")


def test_parses_region_and_resources() -> None:
    tutorial = parse(FRONT)
    assert tutorial.validation is not None
    assert tutorial.validation.aws == AwsResources(
        region="eu-west-1",
        s3_buckets=("demo-bodies", "demo.logs"),
        dynamodb_tables=(
            DynamoTable("documents", KeyAttribute("owner", "S"), KeyAttribute("version", "N")),
            DynamoTable("sessions", KeyAttribute("id", "B")),
        ),
        sqs_queues=("events", "orders.fifo"),
    )


def test_region_defaults_and_lists_may_be_absent() -> None:
    start, end = FRONT.index("  aws:\n"), FRONT.index("---\n\n")
    tutorial = parse(FRONT[:start] + "  aws:\n    s3_buckets: [only-a-bucket]\n" + FRONT[end:])
    assert tutorial.validation is not None
    assert tutorial.validation.aws == AwsResources(s3_buckets=("only-a-bucket",))


def test_tutorials_without_the_block_have_none() -> None:
    start, end = FRONT.index("  aws:\n"), FRONT.index("---\n\n")
    tutorial = parse(FRONT[:start] + FRONT[end:])
    assert tutorial.validation is not None
    assert tutorial.validation.aws is None


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (
            ("    region:", "    zone: x\n    region:"),
            ["unknown field 'validation.aws.zone'", ":13:"],
        ),
        (('"eu-west-1"', '"Europe"'), ["'Europe' is not an AWS region", ":13:"]),
        (('"demo-bodies", ', '"Demo_Bodies", '), ["'Demo_Bodies' is not a valid name", ":14:"]),
        (('"demo.logs"', '"demo-bodies"'), ["'demo-bodies' is declared twice", ":14:"]),
        (('s3_buckets: ["demo-bodies", "demo.logs"]', 's3_buckets: "one"'), ["must be a list"]),
        (('"events", ', '"has space", '), ["'has space' is not a valid name"]),
        (('"orders.fifo"', '"orders.fifo.fifo"'), ["is not a valid name"]),
        (('name: "documents"', 'name: "x"'), ["'x' is not a valid name", f":{TABLE_LINE}:"]),
        (('name: "sessions"', 'name: "documents"'), ["'documents' is declared twice"]),
        (('{name: "owner", type: "S"}', "{name: owner, type: STRING}"), ["type of S, N or B"]),
        (("sort: {name", "range: {name"), ["unknown field 'validation.aws.dynamodb_t", ":19:"]),
        (('          partition: {name: "id", type: "B"}\n', ""), ["needs a key_schema"]),
        (('      - name: "sessions"\n', '      - title: "sessions"\n'), ["unknown field"]),
        (('      - name: "documents"', '      - documents\n      - name: "x1x"'), ["mapping"]),
    ],
)
def test_mistakes_are_usage_errors_with_file_and_line(
    edit: tuple[str, str], fragments: list[str]
) -> None:
    assert edit[0] in FRONT
    with pytest.raises(pytest.UsageError) as caught:
        parse(FRONT.replace(edit[0], edit[1], 1))
    message = str(caught.value)
    assert message.startswith("demo/tutorial.md:")
    for fragment in fragments:
        assert fragment in message, message


def test_aws_must_be_a_mapping() -> None:
    start, end = FRONT.index("  aws:\n"), FRONT.index("---\n\n")
    with pytest.raises(pytest.UsageError, match=r"demo/tutorial.md:12: validation.aws must be a"):
        parse(FRONT[:start] + '  aws: "us-east-1"\n' + FRONT[end:])


def test_the_object_store_tutorial_declares_its_resources() -> None:
    tutorial = parse_tutorial(BUNDLED_ROOT / "object_store" / "tutorial.md")
    assert tutorial.validation is not None
    aws = tutorial.validation.aws
    assert aws is not None
    assert aws.s3_buckets == ("tutorial-documents",)
    assert [table.name for table in aws.dynamodb_tables] == ["documents"]
    assert aws.sqs_queues == ("document-events",)
    caching = parse_tutorial(BUNDLED_ROOT / "caching" / "tutorial.md").validation
    assert caching is not None
    assert caching.aws is None
