"""Checks of "Integration points work correctly": S3 objects, DynamoDB items, SQS events."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_tutorial import assert_same_json
from pytest_tutorial.fixtures.aws import AwsMock
from pytest_tutorial.solution import Solution
from pytest_tutorial.tutorials.object_store.support import (
    OWNER,
    QUICK_PHASES,
    item,
    metadata,
    object_key,
)

_buckets = itertools.count()
"""Numbers the buckets of the property's examples."""
REPEATED = [b"same bytes", b"\x00", b"%PDF-1.7"]
"""Bodies the property draws often, so most examples put some body twice."""


@pytest.mark.checklist(
    "integration",
    points=2,
    step=2,
    hint="upload each body to the bucket under 'sha256/' + hashlib.sha256(body).hexdigest(), "
    "exactly as given",
)
def test_bodies_are_stored_under_their_sha256(store: Any, aws: AwsMock) -> None:
    bodies = [b"first document", b"second document", b"\x00\xffbinary\x00"]
    for index, body in enumerate(bodies):
        store.put(OWNER, f"doc-{index}.bin", body, content_type="application/pdf")
    stored = aws.s3_objects()
    expected = {object_key(body): body for body in bodies}
    assert sorted(stored) == sorted(expected), f"the bucket holds {sorted(stored)}"
    changed = [key for key, body in expected.items() if stored[key] != body]
    assert not changed, f"the objects {changed} do not hold the bytes that were put"


@pytest.mark.checklist(
    "integration",
    step=2,
    hint="one item per document keyed by owner (partition) and name (sort), with sha256 (S), "
    "size (N), content_type (S) and tags (M of S), so other services can read it",
)
def test_metadata_items_have_the_documented_layout(store: Any, aws: AwsMock) -> None:
    tags = {"lang": "en", "project": "apollo"}
    store.put(OWNER, "notes.md", b"# Notes\n", content_type="text/markdown", tags=tags)
    expected = item(metadata("notes.md", b"# Notes\n", content_type="text/markdown", tags=tags))
    assert_same_json(aws.raw_dynamodb_items(), [expected], what="the DynamoDB items")


@pytest.mark.checklist(
    "integration",
    step=2,
    hint="get() and list_documents() read items other writers stored in the documented layout",
)
def test_documents_written_by_another_service_are_read(store: Any, aws: AwsMock) -> None:
    meta = metadata("imported.json", b"{}", content_type="application/json", tags={"src": "etl"})
    aws.inspector("dynamodb").put_item(TableName=aws.table, Item=item(meta))
    assert_same_json(store.get(OWNER, "imported.json"), meta, what="get() of an imported item")
    page = store.list_documents(OWNER)
    assert_same_json(page["documents"], [meta], what="list_documents() of an imported item")


@pytest.mark.checklist(
    "integration",
    points=2,
    step=2,
    hint="after the conditional PutItem succeeds, and only then, send one message: "
    "json.dumps({'event': 'document.created', **metadata})",
)
def test_one_event_per_new_document(store: Any, aws: AwsMock, solution: Solution) -> None:
    store.put(OWNER, "a.txt", b"alpha", content_type="text/plain")
    store.put(OWNER, "a.txt", b"alpha", content_type="text/plain")  # idempotent: no event
    store.put(OWNER, "b.txt", b"beta", content_type="text/plain", tags={"k": "v"})
    with pytest.raises(solution.DocumentConflict):
        store.put(OWNER, "a.txt", b"changed", content_type="text/plain")  # loses: no event
    events = []
    for body in aws.sqs_messages():
        try:
            events.append(json.loads(body))
        except ValueError:
            pytest.fail(f"an SQS message is not JSON: {body[:80]!r}")
    expected = [
        {"event": "document.created", **metadata("a.txt", b"alpha")},
        {"event": "document.created", **metadata("b.txt", b"beta", tags={"k": "v"})},
    ]
    assert_same_json(events, expected, what="the messages on the queue")


@pytest.mark.checklist(
    "integration",
    points=2,
    step=4,
    hint="the S3 key is a function of the bytes alone: one object per distinct body, "
    "however many documents share it",
)
@settings(max_examples=15, phases=QUICK_PHASES)
@given(
    contents=st.lists(st.sampled_from(REPEATED) | st.binary(min_size=1, max_size=64), max_size=5)
)
def test_objects_are_exactly_one_per_distinct_body(
    make_store: Callable[..., Any], aws: AwsMock, contents: list[bytes]
) -> None:
    bucket = f"property-{next(_buckets)}"  # every example starts from an empty bucket
    aws.inspector("s3").create_bucket(Bucket=bucket)
    store = make_store(bucket=bucket)
    for body in contents:
        store.put(OWNER, f"{bucket}/doc-{len(aws.calls)}", body, content_type="text/plain")
    expected = {object_key(body): body for body in contents}
    stored = aws.s3_objects(bucket)
    assert sorted(stored) == sorted(expected), (
        f"putting {len(contents)} bodies ({len(expected)} distinct) left the objects "
        f"{sorted(stored)[:4]}, expected {sorted(expected)[:4]}"
    )
    changed = [key for key, body in expected.items() if stored[key] != body]
    assert not changed, f"the objects {changed[:3]} do not hold the bytes that were put"
