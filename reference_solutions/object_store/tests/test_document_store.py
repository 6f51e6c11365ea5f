"""Tests for the reference ``document_store``: what a strong learner would write.

Every test gets the ``aws`` fixture: moto's backends reset, then the bucket, table and queue
made afresh, so tests share no AWS state, pass in any order, and need neither an AWS account
nor the network. The mock (``mock_aws``) and the three clients are made once for the
session: a botocore client takes a few milliseconds to make, and three of them a test were
half of its set-up. A hook a test adds to a client goes through ``Aws.on``, which removes it
when the test ends, so the next test gets the clients as they were made. ``Aws.inject``
makes calls fail the way AWS does (throttling, AccessDenied) through a ``before-call`` hook
on the client, the mechanism botocore's own Stubber uses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from document_store import DocumentConflict, DocumentNotFound, DocumentStore
from moto import mock_aws

REGION = "us-east-1"
BUCKET, TABLE, QUEUE = "test-documents", "documents", "document-events"
SESSION = boto3.session.Session(region_name=REGION)
"""One session for every test: a new one per test would parse the service models again."""


@dataclass
class Aws:
    """One test's mocked account: the session's clients, the queue's URL, and the sleeps
    and hooks of this test."""

    s3: Any
    dynamodb: Any
    sqs: Any
    queue_url: str
    sleeps: list[float] = field(default_factory=list)
    hooks: list[tuple[Any, str, Callable[..., Any]]] = field(default_factory=list)
    """The hooks this test added (client, event, handler), removed when it ends."""

    def store(self, **overrides: Any) -> DocumentStore:
        """A DocumentStore on these clients; its sleeps are recorded, never waited."""
        options: dict[str, Any] = {
            "s3": self.s3,
            "dynamodb": self.dynamodb,
            "sqs": self.sqs,
            "bucket": BUCKET,
            "table": TABLE,
            "queue_url": self.queue_url,
            "sleep": self.sleeps.append,
        }
        options.update(overrides)
        return DocumentStore(**options)

    def on(self, client: Any, event: str, handler: Callable[..., Any]) -> None:
        """Call ``handler`` on ``client``'s ``event`` until this test ends."""
        client.meta.events.register(event, handler)
        self.hooks.append((client, event, handler))

    def remove_hooks(self) -> None:
        """Remove every hook this test added: the clients serve the next test as made."""
        for client, event, handler in reversed(self.hooks):
            client.meta.events.unregister(event, handler)
        self.hooks.clear()

    def inject(
        self, client: Any, operation: str, code: str, status: int = 400, times: int = 1
    ) -> list[str]:
        """Make ``client``'s next ``times`` calls of ``operation`` fail with ``code``.

        Returns the attempts of ``operation``: a list that grows with every call.
        """
        attempts: list[str] = []

        def fail(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            attempts.append(operation)
            if len(attempts) > times:
                return None
            parsed = {
                "Error": {"Code": code, "Message": "injected by the test"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            return AWSResponse(None, status, {}, None), parsed

        service = client.meta.service_model.service_id.hyphenize()
        self.on(client, f"before-call.{service}.{operation}", fail)
        return attempts

    def record_calls(self) -> list[str]:
        """From now on, record the operation name of every call the three clients make."""
        calls: list[str] = []
        for client in (self.s3, self.dynamodb, self.sqs):
            self.on(client, "before-call", lambda model, **_: calls.append(model.name))
        return calls

    def events(self) -> list[dict[str, Any]]:
        """Every message on the queue, decoded."""
        answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in answer.get("Messages", [])]


@dataclass
class Account:
    """The session's mock and the clients every test uses."""

    mock: Any
    s3: Any
    dynamodb: Any
    sqs: Any


@pytest.fixture(scope="session")
def account() -> Iterator[Account]:
    """One mocked AWS for the session, and its clients; no real AWS involved."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws() as mock:
            config = Config(signature_version="s3v4", retries={"total_max_attempts": 1})
            yield Account(
                mock,
                SESSION.client("s3", config=config),
                SESSION.client("dynamodb", config=config),
                SESSION.client("sqs", config=config),
            )


@pytest.fixture
def aws(account: Account) -> Iterator[Aws]:
    """A fresh account: moto's backends reset, then the bucket, table and queue made."""
    account.mock.reset()
    s3, dynamodb, sqs = account.s3, account.dynamodb, account.sqs
    s3.create_bucket(Bucket=BUCKET)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "owner", "KeyType": "HASH"},
            {"AttributeName": "name", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "owner", "AttributeType": "S"},
            {"AttributeName": "name", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    made = Aws(s3, dynamodb, sqs, sqs.create_queue(QueueName=QUEUE)["QueueUrl"])
    yield made
    made.remove_hooks()


def test_put_then_get_round_trips_the_metadata(aws: Aws) -> None:
    store = aws.store()

    created = store.put("ada", "notes/today.md", b"# Today", content_type="text/markdown")

    expected = {
        "owner": "ada",
        "name": "notes/today.md",
        "sha256": hashlib.sha256(b"# Today").hexdigest(),
        "size": 7,
        "content_type": "text/markdown",
        "tags": {},
    }
    assert created == {**expected, "created": True}
    assert store.get("ada", "notes/today.md") == expected
    assert store.get("ada", "missing.md") is None


def test_body_is_stored_under_its_sha256(aws: Aws) -> None:
    aws.store().put("ada", "a.bin", b"\x00\x01bytes", content_type="application/pdf")

    key = "sha256/" + hashlib.sha256(b"\x00\x01bytes").hexdigest()
    assert aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"\x00\x01bytes"


def test_identical_bodies_are_stored_once(aws: Aws) -> None:
    store = aws.store()

    store.put("ada", "logo.png", b"PNG bytes", content_type="image/png")
    store.put("bob", "copy.png", b"PNG bytes", content_type="image/png")

    assert aws.s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1


def test_repeated_put_is_idempotent_and_sends_one_event(aws: Aws) -> None:
    store = aws.store()

    first = store.put("ada", "a.txt", b"alpha", content_type="text/plain")
    again = store.put("ada", "a.txt", b"alpha", content_type="text/plain")

    assert (first["created"], again["created"]) == (True, False)
    assert [event["name"] for event in aws.events()] == ["a.txt"]
    assert aws.events() == []  # the one message is in flight; no second one was sent


def test_conflicting_put_raises_and_keeps_the_original(aws: Aws) -> None:
    store = aws.store()
    store.put("ada", "a.txt", b"alpha", content_type="text/plain")

    with pytest.raises(DocumentConflict):
        store.put("ada", "a.txt", b"changed", content_type="text/plain")

    found = store.get("ada", "a.txt")
    assert found is not None
    assert found["sha256"] == hashlib.sha256(b"alpha").hexdigest()


def test_pages_cover_every_document_in_name_order(aws: Aws) -> None:
    store = aws.store()
    names = [f"doc-{n}.txt" for n in range(7)]
    for name in names:
        store.put("ada", name, name.encode(), content_type="text/plain")

    listed, cursor = [], None
    while True:
        page = store.list_documents("ada", limit=3, cursor=cursor)
        assert len(page["documents"]) <= 3
        listed += [document["name"] for document in page["documents"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert listed == names
    assert [d["name"] for d in store.iter_documents("ada", page_size=3)] == names


def test_presigned_url_carries_the_requested_expiry(aws: Aws) -> None:
    store = aws.store()
    store.put("ada", "a.csv", b"x,y\n", content_type="text/csv")

    url = store.presign("ada", "a.csv", expires_in=60)

    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["60"]
    assert query["response-content-type"] == ["text/csv"]
    with pytest.raises(DocumentNotFound):
        store.presign("ada", "missing.csv")


INVALID_PUTS: list[tuple[Any, Any, Any, Any]] = [
    ("", "a.txt", b"x", "text/plain"),  # empty owner
    ("Ada", "a.txt", b"x", "text/plain"),  # capital in owner
    ("ada", "/a.txt", b"x", "text/plain"),  # name must start with a letter or digit
    ("ada", "a b.txt", b"x", "text/plain"),  # space in name
    ("ada", "a.txt", b"", "text/plain"),  # empty body
    ("ada", "a.txt", "not bytes", "text/plain"),  # str body
    ("ada", "a.txt", b"x" * 101, "text/plain"),  # over max_bytes
    ("ada", "a.exe", b"x", "application/x-msdownload"),  # content type not allowed
]


def test_invalid_input_is_rejected_before_any_call(aws: Aws) -> None:
    store = aws.store(max_bytes=100)
    calls = aws.record_calls()

    accepted = []
    for owner, name, body, content_type in INVALID_PUTS:
        try:
            store.put(owner, name, body, content_type=content_type)
        except ValueError:
            continue
        accepted.append((owner, name, content_type))

    assert accepted == []
    assert calls == []


def test_throttled_write_is_retried_with_growing_delays(aws: Aws) -> None:
    attempts = aws.inject(
        aws.dynamodb, "PutItem", "ProvisionedThroughputExceededException", times=2
    )
    store = aws.store(base_delay=0.1, max_delay=1.0)

    assert store.put("ada", "a.txt", b"alpha", content_type="text/plain")["created"] is True

    assert len(attempts) == 3
    assert len(aws.sleeps) == 2
    assert 0.05 <= aws.sleeps[0] <= 0.1
    assert 0.1 <= aws.sleeps[1] <= 0.2


def test_access_denied_is_not_retried_and_writes_nothing(aws: Aws) -> None:
    attempts = aws.inject(aws.s3, "PutObject", "AccessDenied", 403)
    store = aws.store()

    with pytest.raises(ClientError):
        store.put("ada", "a.txt", b"alpha", content_type="text/plain")

    assert attempts == ["PutObject"]
    assert aws.sleeps == []
    assert store.get("ada", "a.txt") is None
    assert aws.events() == []
