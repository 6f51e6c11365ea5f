"""Checks of "Integration points work correctly": S3 objects, DynamoDB items, SQS events."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_tutorial import AwsMock, Solution, as_plain_json, assert_same_json
from pytest_tutorial.tutorials.object_store.support import (
    OWNER,
    PROPERTY_TIMEOUT_S,
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
    assert sorted(stored) == sorted(expected), (
        f"after putting 3 bodies the bucket holds {sorted(stored)}, expected {sorted(expected)}"
    )
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
    before = as_plain_json(store.get(OWNER, "imported.json"), what="get() of a missing document")
    assert before is None, f"get() of a document nobody stored returned {before}"
    aws.inspector("dynamodb").put_item(TableName=aws.table, Item=item(meta))
    assert_same_json(
        store.get(OWNER, "imported.json"),
        meta,
        what="get() of an item another service wrote after this store last looked",
    )
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
    # Whether a conflicting put raises is checked under "core"; here only its event matters.
    with contextlib.suppress(solution.DocumentConflict):
        store.put(OWNER, "a.txt", b"changed", content_type="text/plain")
    events = []
    for body in aws.sqs_messages():
        try:
            events.append(json.loads(body))
        except ValueError:
            pytest.fail(f"an SQS message of put(...) is not JSON: {body[:80]!r}")
    expected = [
        {"event": "document.created", **metadata("a.txt", b"alpha")},
        {"event": "document.created", **metadata("b.txt", b"beta", tags={"k": "v"})},
    ]
    assert_same_json(events, expected, what="the messages on the queue")


@pytest.mark.checklist(
    "integration",
    points=2,
    timeout=PROPERTY_TIMEOUT_S,
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


@pytest.mark.checklist(
    "integration",
    step=2,
    hint="read with ConsistentRead=True (GetItem and Query): an eventually consistent read "
    "may come from a replica that has not seen a write made a moment ago",
)
def test_reads_see_the_write_just_made(store: Any, aws: AwsMock) -> None:
    body = b"fresh off the press"
    with LaggingReplica(aws.client("dynamodb")):
        store.put(OWNER, "fresh.txt", body, content_type="text/plain")
        found = store.get(OWNER, "fresh.txt")
        page = store.list_documents(OWNER)
        url = store.presign(OWNER, "fresh.txt")
    expected = metadata("fresh.txt", body)
    assert_same_json(found, expected, what="get() right after put()")
    assert_same_json(page["documents"], [expected], what="list_documents() right after put()")
    assert isinstance(url, str), f"presign() right after put() returned {url!r:.80}"


class LaggingReplica:
    """Answers the learner's eventually consistent DynamoDB reads from a replica that has
    seen none of the writes made during the check (``with``), as DynamoDB may for a moment.

    Reads that ask for ``ConsistentRead`` go to moto as usual.
    """

    STALE: ClassVar[dict[str, dict[str, Any]]] = {
        "GetItem": {},
        "Query": {"Items": [], "Count": 0, "ScannedCount": 0},
        "Scan": {"Items": [], "Count": 0, "ScannedCount": 0},
    }

    def __init__(self, client: Any) -> None:
        self._events = client.meta.events

    def __enter__(self) -> LaggingReplica:
        self._events.register("before-call", self._answer)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._events.unregister("before-call", self._answer)

    def _answer(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        stale = self.STALE.get(model.name)
        if stale is None or _consistent(params):
            return None
        from botocore.awsrequest import AWSResponse

        parsed = {**stale, "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": "replica"}}
        return AWSResponse(None, 200, {}, None), parsed


def _consistent(request: dict[str, Any]) -> bool:
    """Whether a serialized DynamoDB request asks for a strongly consistent read."""
    body = request.get("body") or b"{}"
    try:
        return bool(json.loads(body).get("ConsistentRead"))
    except (ValueError, AttributeError):
        return True  # not a request this replica understands: let moto answer it
