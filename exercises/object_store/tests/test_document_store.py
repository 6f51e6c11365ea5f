"""Your tests for ``document_store`` (Step 5 of the object_store tutorial).

Run them from ``exercises/object_store`` with ``python -m pytest tests``. ``pytest
--tutorial=object_store`` runs them too: three times, in shuffled order, and against two
known-bad implementations (one stores a copy of the body per document instead of one per
distinct body, one sends an event on every put). Your suite must pass on a correct
implementation and fail on both bad ones. It must also catch at least 2 of 4 hidden bugs
(small changes to a correct implementation); a bug counts as caught only by a test that
passes against a correct implementation.

The ``aws`` fixture below is ready to use: each test gets a fresh mocked account (moto's
``mock_aws``) with the bucket, table and queue, so tests share nothing, pass in any order,
and need neither an AWS account nor the network.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from document_store import DocumentStore
from moto import mock_aws

REGION = "us-east-1"
BUCKET, TABLE, QUEUE = "test-documents", "documents", "document-events"
SESSION = boto3.session.Session(region_name=REGION)
"""One session for every test: a new one per test would parse the service models again."""


@dataclass
class Aws:
    """The clients of one test's mocked account, and the queue's URL."""

    s3: Any
    dynamodb: Any
    sqs: Any
    queue_url: str
    sleeps: list[float] = field(default_factory=list)

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
        client.meta.events.register(f"before-call.{service}.{operation}", fail)
        return attempts

    def record_calls(self) -> list[str]:
        """From now on, record the operation name of every call the three clients make."""
        calls: list[str] = []
        for client in (self.s3, self.dynamodb, self.sqs):
            client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
        return calls

    def events(self) -> list[dict[str, Any]]:
        """Every message on the queue, decoded."""
        answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in answer.get("Messages", [])]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """A fresh mocked account with the bucket, table and queue; no real AWS involved."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        config = Config(signature_version="s3v4", retries={"total_max_attempts": 1})
        s3 = SESSION.client("s3", config=config)
        dynamodb = SESSION.client("dynamodb", config=config)
        sqs = SESSION.client("sqs", config=config)
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
        queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        yield Aws(s3, dynamodb, sqs, queue_url)


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


def test_owner_with_capitals_is_rejected_before_any_call(aws: Aws) -> None:
    store = aws.store()
    calls = aws.record_calls()

    with pytest.raises(ValueError):
        store.put("Ada", "a.txt", b"x", content_type="text/plain")

    assert calls == []


# What else to test (use the aws fixture: no shared state, no real AWS, no real sleeps):
#
# - The body sits in the bucket under "sha256/" + hashlib.sha256(body).hexdigest():
#   aws.s3.get_object(Bucket=BUCKET, Key=...)["Body"].read() == body.
# - The same body put under two names (or by two owners) is stored once:
#   aws.s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1.
# - Repeating a put returns created=False and sends no second event (aws.events()).
# - A put under an existing name with another body, content type or tags raises
#   DocumentConflict and leaves the stored document alone.
# - list_documents(limit=3) pages cover every document once, in name order, ending with
#   next_cursor None; iter_documents yields them all, the last page too.
# - presign(expires_in=60) gives a URL whose query has X-Amz-Expires=60;
#   an unknown document raises DocumentNotFound.
# - Invalid owners, names, bodies, content types, tags, limits raise ValueError and make
#   no AWS call (aws.record_calls()).
# - A throttled call (aws.inject(aws.dynamodb, "PutItem",
#   "ProvisionedThroughputExceededException", times=2)) is retried, with growing delays
#   in aws.sleeps; AccessDenied (status 403) is not retried and nothing is written.
