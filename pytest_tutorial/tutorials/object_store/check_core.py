"""Checks of "All core functionality works correctly": puts, reads, pages, presigned URLs."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_tutorial import AwsMock, Solution, as_plain_json, assert_same_json
from pytest_tutorial.tutorials.object_store.support import (
    OWNER,
    PROPERTY_TIMEOUT_S,
    QUICK_PHASES,
    WRITE_OPERATIONS,
    described,
    expect_raise,
    item,
    metadata,
    object_key,
)

CONTENT_TYPES = ["application/json", "application/pdf", "image/png", "text/csv", "text/plain"]
LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
ALNUM = LOWER + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Composed from text(), not from_regex(): regex strategies cost a second to warm up.
owners = st.builds(operator.add, st.sampled_from(LOWER), st.text(LOWER + "-", max_size=20))
names = st.builds(operator.add, st.sampled_from(ALNUM), st.text(ALNUM + "._/-", max_size=60))
tag_maps = st.dictionaries(
    st.text(ALNUM + "_.:-", min_size=1, max_size=64), st.text(max_size=40), max_size=4
)
bodies = st.binary(min_size=1, max_size=512)
DEFAULT_PAGE = 100
"""list_documents' documented default ``limit``."""


def _seed(aws: AwsMock, count: int, owner: str = OWNER) -> list[str]:
    """Write ``count`` documents of ``owner`` straight into DynamoDB; return their names."""
    written = [f"doc-{n:03d}.txt" for n in range(count)]
    requests = [
        {"PutRequest": {"Item": item(metadata(name, name.encode(), owner=owner))}}
        for name in written
    ]
    for start in range(0, len(requests), 25):  # BatchWriteItem takes 25 items at most
        batch = {aws.table: requests[start : start + 25]}
        aws.inspector("dynamodb").batch_write_item(RequestItems=batch)
    return written


@pytest.mark.checklist(
    "core",
    points=2,
    step=2,
    hint="put() returns the metadata (owner, name, sha256, size, content_type, tags) plus "
    "created=True; get() returns the metadata, or None for an unknown document",
)
def test_put_then_get_returns_the_metadata(store: Any) -> None:
    body = b"Quarterly report: revenue up 12%."
    expected = metadata("reports/q1.txt", body, tags={"team": "finance"})
    created = store.put(
        OWNER, "reports/q1.txt", body, content_type="text/plain", tags={"team": "finance"}
    )
    assert_same_json(created, {**expected, "created": True}, what="put(...)'s result")
    assert_same_json(store.get(OWNER, "reports/q1.txt"), expected, what="get(...) after put")
    assert as_plain_json(store.get(OWNER, "never-stored"), what="get of an unknown name") is None


@pytest.mark.checklist(
    "core",
    points=2,
    step=2,
    hint="a repeated put of the same document returns created=False and writes nothing: "
    "the conditional PutItem fails, and the existing item is identical",
)
def test_repeating_a_put_is_idempotent(store: Any, aws: AwsMock) -> None:
    body = b'{"id": 7}'
    first = store.put(OWNER, "order-7.json", body, content_type="application/json")
    again = store.put(OWNER, "order-7.json", body, content_type="application/json")
    expected = metadata("order-7.json", body, content_type="application/json")
    assert_same_json(first, {**expected, "created": True}, what="the first put")
    assert_same_json(again, {**expected, "created": False}, what="the repeated put")
    assert_same_json(aws.dynamodb_items(), [expected], what="the table after two puts")


@pytest.mark.checklist(
    "core",
    step=2,
    hint="documents are immutable: a put under an existing name with another body, "
    "content type or tags raises DocumentConflict and leaves the stored one alone",
)
def test_conflicting_put_raises_and_keeps_the_original(store: Any, solution: Solution) -> None:
    store.put(OWNER, "contract.txt", b"version 1", content_type="text/plain")
    attempts = [
        ("another body", b"version 2", "text/plain", None),
        ("another content type", b"version 1", "text/markdown", None),
        ("other tags", b"version 1", "text/plain", {"status": "signed"}),
    ]
    accepted = []
    for label, body, content_type, tags in attempts:
        try:
            store.put(OWNER, "contract.txt", body, content_type=content_type, tags=tags)
        except solution.DocumentConflict:
            continue
        accepted.append(label)
    assert not accepted, "a put with " + ", ".join(accepted) + " did not raise DocumentConflict"
    original = metadata("contract.txt", b"version 1")
    assert_same_json(store.get(OWNER, "contract.txt"), original, what="the stored document")


@pytest.mark.checklist(
    "core",
    points=2,
    step=2,
    hint="write the metadata with ConditionExpression='attribute_not_exists(#name)': when "
    "another writer got there between your checks and your write, the condition fails and "
    "your put must lose (DocumentConflict), not overwrite",
)
def test_a_put_that_loses_a_race_fails_cleanly(
    store: Any, aws: AwsMock, solution: Solution
) -> None:
    rival = metadata("invoice.pdf", b"%PDF-rival", content_type="application/pdf")
    _write_first(aws, rival)
    expect_raise(
        solution.DocumentConflict,
        "put(OWNER, 'invoice.pdf', b'%PDF-mine') while another writer stored a different "
        "invoice.pdf just before its metadata write",
        lambda: store.put(OWNER, "invoice.pdf", b"%PDF-mine", content_type="application/pdf"),
    )
    assert_same_json(aws.dynamodb_items(), [rival], what="the table after losing the race")
    twin = metadata("twin.pdf", b"%PDF-same", content_type="application/pdf")
    aws.faults.clear()
    _write_first(aws, twin)
    result = store.put(OWNER, "twin.pdf", b"%PDF-same", content_type="application/pdf")
    assert_same_json(result, {**twin, "created": False}, what="a put that lost to an identical one")


def _write_first(aws: AwsMock, rival: dict[str, Any]) -> None:
    """Make another writer store ``rival`` just before the learner's next metadata write."""
    for operation in WRITE_OPERATIONS:
        aws.faults.before(
            "dynamodb",
            operation,
            lambda: aws.inspector("dynamodb").put_item(TableName=aws.table, Item=item(rival)),
        )


@pytest.mark.checklist(
    "core",
    points=2,
    step=4,
    hint="store bodies under sha256/<hex digest> and HeadObject first: identical bytes are "
    "uploaded once and stored once, whoever puts them under whatever name",
)
def test_identical_bodies_are_uploaded_and_stored_once(store: Any, aws: AwsMock) -> None:
    body = b"\x89PNG\r\n\x1a\n logo bytes"
    store.put(OWNER, "logo.png", body, content_type="image/png")
    store.put(OWNER, "copy-of-logo.png", body, content_type="image/png")
    store.put("bob", "logo.png", body, content_type="image/png")
    keys = sorted(aws.s3_objects())
    assert keys == [object_key(body)], (
        f"three puts of one body left the S3 objects {keys}, expected only {object_key(body)}"
    )
    uploads = aws.count("s3", "PutObject")
    assert uploads == 1, (
        f"three puts of one body uploaded it {uploads} times; check whether its content key "
        "exists (HeadObject) before uploading"
    )


@pytest.mark.checklist(
    "core",
    step=4,
    hint="when another writer stores the same bytes between your existence check and your "
    "upload, PutObject with IfNoneMatch='*' answers 412 PreconditionFailed: the bytes are "
    "there, so carry on with the metadata",
)
def test_an_identical_upload_racing_this_one_is_no_error(store: Any, aws: AwsMock) -> None:
    body = b"%PDF-1.7 the shared attachment"
    aws.faults.before(
        "s3",
        "PutObject",
        lambda: aws.inspector("s3").put_object(Bucket=aws.bucket, Key=object_key(body), Body=body),
    )
    try:
        result = store.put(OWNER, "attachment.pdf", body, content_type="application/pdf")
    except ClientError as error:
        pytest.fail(
            "put(OWNER, 'attachment.pdf', ...) failed when another writer uploaded the same "
            f"bytes just before its PutObject: {described(error)}"
        )
    expected = metadata("attachment.pdf", body, content_type="application/pdf")
    assert_same_json(result, {**expected, "created": True}, what="the put that raced an upload")
    assert aws.s3_objects() == {object_key(body): body}, (
        f"after the race the bucket holds {sorted(aws.s3_objects())}, expected only "
        f"{object_key(body)}"
    )
    assert_same_json(aws.dynamodb_items(), [expected], what="the table after the race")


@pytest.mark.checklist(
    "core",
    points=2,
    step=3,
    hint="Query with Limit and ExclusiveStartKey; next_cursor encodes LastEvaluatedKey and "
    "is None only when DynamoDB returns no LastEvaluatedKey",
)
def test_pages_list_every_document_once_in_name_order(store: Any, aws: AwsMock) -> None:
    written = _seed(aws, 7)
    _seed(aws, 2, owner="bob")
    listed: list[str] = []
    cursor = None
    for _ in range(10):
        page = as_plain_json(
            store.list_documents(OWNER, limit=3, cursor=cursor), what="list_documents(...)"
        )
        held = len(page["documents"])
        assert held <= 3, f"list_documents(OWNER, limit=3, cursor=...) returned {held} documents"
        listed += [document["name"] for document in page["documents"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert listed == written, (
        f"list_documents(OWNER, limit=3) followed page by page listed {listed}, expected {written}"
    )
    first = store.list_documents(OWNER, limit=1)["documents"]
    expected = metadata(written[0], written[0].encode())
    assert_same_json(first, [expected], what="the first page of limit=1")


@pytest.mark.checklist(
    "core",
    step=3,
    hint="list_documents(owner) without limit returns a page of 100 documents (the "
    "documented default) and a cursor to the rest",
)
def test_a_page_holds_100_documents_by_default(store: Any, aws: AwsMock) -> None:
    written = _seed(aws, DEFAULT_PAGE + 1)
    page = as_plain_json(store.list_documents(OWNER), what="list_documents(OWNER)")
    listed = [document["name"] for document in page["documents"]]
    assert listed == written[:DEFAULT_PAGE], (
        f"list_documents(OWNER) of {len(written)} documents listed {len(listed)} "
        f"({listed[:2]} ... {listed[-1:]}), expected the first {DEFAULT_PAGE} by name"
    )
    assert page["next_cursor"] is not None, (
        f"list_documents(OWNER) of {len(written)} documents returned next_cursor=None after "
        f"{DEFAULT_PAGE}"
    )
    rest = store.list_documents(OWNER, cursor=page["next_cursor"])["documents"]
    assert [d["name"] for d in rest] == written[DEFAULT_PAGE:], (
        f"the page after the first {DEFAULT_PAGE} listed {[d['name'] for d in rest]}"
    )


@pytest.mark.checklist(
    "core",
    step=3,
    hint="iter_documents must follow next_cursor until it is None, yielding every page, "
    "the last one too",
)
def test_iter_documents_yields_every_page(store: Any, aws: AwsMock) -> None:
    written = _seed(aws, 7)
    for page_size in (3, 7, 100):
        names_seen = [d["name"] for d in store.iter_documents(OWNER, page_size=page_size)]
        assert names_seen == written, (
            f"iter_documents(OWNER, page_size={page_size}) yielded {names_seen}, expected {written}"
        )
    nobody = list(store.iter_documents("nobody", page_size=2))
    assert nobody == [], f"iter_documents of an owner without documents yielded {nobody}"


@pytest.mark.checklist(
    "core",
    points=2,
    step=3,
    hint="generate_presigned_url('get_object', Params={Bucket, Key: sha256/<hex>, "
    "ResponseContentType}, ExpiresIn=expires_in)",
)
def test_presigned_urls_serve_the_bytes_and_expire_as_asked(store: Any, aws: AwsMock) -> None:
    body = b"name,score\nada,10\n"
    store.put(OWNER, "scores.csv", body, content_type="text/csv")
    for expires_in, url in (
        (120, store.presign(OWNER, "scores.csv", expires_in=120)),
        (900, store.presign(OWNER, "scores.csv")),
    ):
        assert isinstance(url, str), (
            f"presign(..., expires_in={expires_in}) returned a {type(url).__name__}, not a str"
        )
        query = parse_qs(urlsplit(url).query)
        assert query.get("X-Amz-Expires") == [str(expires_in)], (
            f"the URL for expires_in={expires_in} has X-Amz-Expires={query.get('X-Amz-Expires')}"
        )
        answer = aws.http_get(url)
        assert answer.status == 200, (
            f"a GET of presign(..., expires_in={expires_in})'s URL answered {answer.status}, "
            "expected 200"
        )
        assert answer.body == body, (
            f"presign(...)'s URL served {answer.body[:40]!r}, not the document's bytes"
        )
        assert answer.headers.get("content-type") == "text/csv", (
            f"presign(...)'s URL served the text/csv document as "
            f"{answer.headers.get('content-type')!r}; pass ResponseContentType"
        )


@pytest.mark.checklist(
    "core", step=3, hint="presign() of a document that does not exist raises DocumentNotFound"
)
def test_presign_of_a_missing_document_raises(store: Any, solution: Solution) -> None:
    assert issubclass(solution.DocumentNotFound, LookupError), (
        "DocumentNotFound should subclass LookupError"
    )
    expect_raise(
        solution.DocumentNotFound,
        "presign(OWNER, 'missing.pdf') of a document never stored",
        lambda: store.presign(OWNER, "missing.pdf"),
    )


@pytest.mark.checklist(
    "core",
    points=2,
    timeout=PROPERTY_TIMEOUT_S,
    step=2,
    hint="every valid owner, name, content type, tags and body must round-trip: put, get "
    "and list_documents return exactly the metadata",
)
@settings(max_examples=25, phases=QUICK_PHASES)
@given(
    owner=owners,
    name=names,
    content_type=st.sampled_from(CONTENT_TYPES),
    tags=tag_maps,
    body=bodies,
)
def test_any_valid_document_round_trips(
    make_store: Callable[..., Any],
    solution: Solution,
    owner: str,
    name: str,
    content_type: str,
    tags: dict[str, str],
    body: bytes,
) -> None:
    store = make_store()
    expected = metadata(name, body, owner=owner, content_type=content_type, tags=tags)
    try:
        created = as_plain_json(
            store.put(owner, name, body, content_type=content_type, tags=tags), what="put(...)"
        )
    except solution.DocumentConflict:
        return  # an earlier example stored another document under this name
    flag = created.pop("created", None)  # False when an earlier example stored the same one
    assert flag is True or flag is False, "put(...)'s result has no boolean 'created'"
    assert_same_json(created, expected, what="put(...)'s metadata")
    assert_same_json(store.get(owner, name), expected, what="get(...) after put")
    listed = [d for d in store.iter_documents(owner, page_size=50) if d["name"] == name]
    assert_same_json(listed, [expected], what="the document as iter_documents lists it")
