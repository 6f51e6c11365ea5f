"""A content-addressed document store on S3, DynamoDB and SQS that avoids needless requests.

Two shortcuts on the write path, both safe because documents and bodies are immutable:

- a put first reads the document's item: an identical repeat returns at once (no S3 call,
  no write), a different document raises DocumentConflict; a new one is created by an
  UpdateItem with a condition, so a writer that slips in between still makes this put lose
  cleanly;
- digests this store has seen stored are kept in a bounded LRU cache (cachetools, behind a
  lock, since one store serves many threads), so a popular body costs no HeadObject.

Retries follow one :class:`Backoff` policy object: throttling and 5xx errors only, capped
exponential delays with equal jitter, at most ``max_attempts`` attempts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from botocore.exceptions import ClientError
from cachetools import LRUCache

__all__ = ["Backoff", "DocumentConflict", "DocumentNotFound", "DocumentStore"]

AwsClient: TypeAlias = Any
"""A boto3 client; boto3 ships no type hints."""
Metadata: TypeAlias = dict[str, Any]
T = TypeVar("T")
logger = logging.getLogger("document_store")

DEFAULT_CONTENT_TYPES = frozenset(
    {"application/json", "application/pdf", "image/jpeg", "image/png"}
    | {"text/csv", "text/markdown", "text/plain"}
)
RETRY_ON = frozenset(
    {"ProvisionedThroughputExceededException", "RequestLimitExceeded", "RequestThrottled"}
    | {"SlowDown", "Throttling", "ThrottlingException", "TooManyRequestsException"}
    | {"InternalError", "InternalServerError", "ServiceUnavailable"}
)
KNOWN_DIGESTS = 4096
"""How many stored digests the cache remembers."""
RULES: dict[str, re.Pattern[str]] = {
    "owner": re.compile(r"[a-z0-9][a-z0-9-]{0,62}"),
    "name": re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}"),
    "tag key": re.compile(r"[A-Za-z0-9_.:-]{1,64}"),
}


class DocumentConflict(Exception):
    """Raised by put when the name already holds a document with other bytes, type or tags."""


class DocumentNotFound(LookupError):
    """Raised by presign when the owner has no document of that name."""


@dataclass(frozen=True)
class Backoff:
    """When to retry a failed AWS call, and how long to wait before each retry."""

    max_attempts: int
    base_delay: float
    max_delay: float

    def delays(self) -> Iterator[float]:
        """The waits before retries 1, 2, ... (one fewer than max_attempts), with equal jitter."""
        for retry in range(1, self.max_attempts):
            cap = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
            yield cap / 2 + random.uniform(0, cap / 2)

    @staticmethod
    def worth_retrying(error: ClientError) -> bool:
        """Whether ``error`` is throttling or a server error, which a later attempt can pass."""
        code = error.response.get("Error", {}).get("Code")
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        return code in RETRY_ON or status >= 500


class DocumentStore:
    """Documents of many owners: bodies in S3 by digest, items in DynamoDB, events in SQS.

    Safe to share between threads; nothing is called on AWS at construction.
    """

    def __init__(
        self,
        *,
        s3: AwsClient,
        dynamodb: AwsClient,
        sqs: AwsClient,
        bucket: str,
        table: str,
        queue_url: str,
        max_bytes: int = 10 * 1024 * 1024,
        content_types: Collection[str] = DEFAULT_CONTENT_TYPES,
        max_attempts: int = 4,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Check every setting (ValueError names the bad one) and keep the injected clients."""
        problems = [
            label
            for label, ok in (
                ("bucket", isinstance(bucket, str) and bool(bucket)),
                ("table", isinstance(table, str) and bool(table)),
                ("queue_url", isinstance(queue_url, str) and bool(queue_url)),
                ("max_bytes", _whole(max_bytes) and max_bytes > 0),
                ("content_types", not isinstance(content_types, str) and len(content_types) > 0),
                ("max_attempts", _whole(max_attempts) and max_attempts > 0),
                ("base_delay", 0 < base_delay <= max_delay),
            )
            if not ok
        ]
        if problems:
            raise ValueError(f"invalid settings: {', '.join(problems)}")
        self._s3, self._dynamodb, self._sqs = s3, dynamodb, sqs
        self._bucket, self._table, self._queue_url = bucket, table, queue_url
        self._max_bytes = max_bytes
        self._content_types = frozenset(content_types)
        self._backoff = Backoff(max_attempts, base_delay, max_delay)
        self._sleep = sleep
        self._stored: LRUCache[str, bool] = LRUCache(maxsize=KNOWN_DIGESTS)
        self._stored_lock = threading.Lock()

    def put(
        self,
        owner: str,
        name: str,
        body: bytes,
        *,
        content_type: str,
        tags: Mapping[str, str] | None = None,
    ) -> Metadata:
        """Store ``body`` as document ``name`` of ``owner``; the metadata with ``created``.

        ``created`` is False for an identical repeat; a different document under the same
        name raises DocumentConflict. ValueError, before any AWS call, for invalid input.
        """
        _valid("owner", owner)
        _valid("name", name)
        if not isinstance(body, bytes) or not 0 < len(body) <= self._max_bytes:
            raise ValueError(f"body must be 1 to {self._max_bytes} bytes")
        if not isinstance(content_type, str) or content_type not in self._content_types:
            raise ValueError(f"content type {content_type!r:.60} is not allowed")
        metadata: Metadata = {
            "owner": owner,
            "name": name,
            "sha256": hashlib.sha256(body).hexdigest(),
            "size": len(body),
            "content_type": content_type,
            "tags": _valid_tags(tags),
        }
        existing = self.get(owner, name)
        if existing is not None:
            return self._repeat_of(existing, metadata)
        self._ensure_body(metadata["sha256"], body)
        item = _to_item(metadata)
        attributes = [field for field in item if field not in ("owner", "name")]
        try:
            self._with_retries(
                self._dynamodb.update_item,
                TableName=self._table,
                Key={"owner": item["owner"], "name": item["name"]},
                UpdateExpression="SET " + ", ".join(f"#{a} = :{a}" for a in attributes),
                ConditionExpression="attribute_not_exists(#name)",
                ExpressionAttributeNames={"#name": "name"} | {f"#{a}": a for a in attributes},
                ExpressionAttributeValues={f":{a}": item[a] for a in attributes},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return self._repeat_of(self.get(owner, name), metadata)  # lost a race
        self._with_retries(
            self._sqs.send_message,
            QueueUrl=self._queue_url,
            MessageBody=json.dumps({"event": "document.created", **metadata}, indent=None),
        )
        return {**metadata, "created": True}

    def get(self, owner: str, name: str) -> Metadata | None:
        """Read the metadata of ``owner``'s document ``name`` (None if absent) in one GetItem."""
        _valid("owner", owner)
        _valid("name", name)
        found = self._with_retries(
            self._dynamodb.get_item,
            TableName=self._table,
            Key={"owner": {"S": owner}, "name": {"S": name}},
            ConsistentRead=True,
        ).get("Item")
        return _from_item(found) if found else None

    def list_documents(
        self, owner: str, *, limit: int = 100, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of ``owner``'s documents by name: ``documents`` and ``next_cursor``.

        ``limit`` is 1 to 1000; ``next_cursor`` is None when DynamoDB reports no more.
        """
        _valid("owner", owner)
        if not _whole(limit) or not 0 < limit <= 1000:
            raise ValueError(f"limit must be an int from 1 to 1000, got {limit!r:.20}")
        start = None if cursor is None else _cursor_key(cursor, owner)
        page = self._with_retries(
            self._dynamodb.query,
            TableName=self._table,
            KeyConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":owner": {"S": owner}},
            Limit=limit,
            ConsistentRead=True,
            **({} if start is None else {"ExclusiveStartKey": start}),
        )
        last = page.get("LastEvaluatedKey")
        return {
            "documents": [_from_item(item) for item in page.get("Items", [])],
            "next_cursor": None if last is None else _cursor_of(last),
        }

    def iter_documents(self, owner: str, *, page_size: int = 100) -> Iterator[Metadata]:
        """Yield all of ``owner``'s documents in name order, ``page_size`` per Query."""
        page = self.list_documents(owner, limit=page_size)
        yield from page["documents"]
        while page["next_cursor"] is not None:
            page = self.list_documents(owner, limit=page_size, cursor=page["next_cursor"])
            yield from page["documents"]

    def presign(self, owner: str, name: str, *, expires_in: int = 900) -> str:
        """Sign a download of ``owner``'s document ``name``, valid for ``expires_in`` seconds.

        ``expires_in`` is 1 to 604800; DocumentNotFound for a document that does not exist.
        """
        _valid("owner", owner)
        _valid("name", name)
        if not _whole(expires_in) or not 0 < expires_in <= 7 * 24 * 3600:
            raise ValueError(f"expires_in must be an int from 1 to 604800, got {expires_in!r:.20}")
        metadata = self.get(owner, name)
        if metadata is None:
            raise DocumentNotFound(f"{owner}/{name}")
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": "sha256/" + metadata["sha256"],
                    "ResponseContentType": metadata["content_type"],
                },
                ExpiresIn=expires_in,
            )
        )

    def _repeat_of(self, existing: Metadata | None, metadata: Metadata) -> Metadata:
        """``metadata`` with ``created: False`` when ``existing`` is the same document."""
        if existing != metadata:
            raise DocumentConflict(f"{metadata['owner']}/{metadata['name']} is another document")
        return {**metadata, "created": False}

    def _ensure_body(self, digest: str, body: bytes) -> None:
        """Make sure S3 holds ``body`` under ``sha256/<digest>``, uploading it at most once."""
        with self._stored_lock:
            if digest in self._stored:
                return
        key = "sha256/" + digest
        try:
            self._with_retries(self._s3.head_object, Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                raise
            self._upload(key, body)
        with self._stored_lock:
            self._stored[digest] = True

    def _upload(self, key: str, body: bytes) -> None:
        try:
            self._with_retries(
                self._s3.put_object,
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType="application/octet-stream",
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 412:
                raise

    def _with_retries(self, call: Callable[..., T], **arguments: Any) -> T:
        """``call(**arguments)``, retried after each delay of the backoff policy."""
        for delay in self._backoff.delays():
            try:
                return call(**arguments)
            except ClientError as error:
                if not Backoff.worth_retrying(error):
                    raise
                name = getattr(call, "__name__", "an AWS call")
                logger.warning("retrying %s in %.3f s after %s", name, delay, error)
                self._sleep(delay)
        return call(**arguments)  # the last attempt: its error propagates


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _valid(what: str, value: object) -> None:
    if not isinstance(value, str) or not RULES[what].fullmatch(value):
        raise ValueError(f"invalid {what}: {value!r:.60}")


def _valid_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping) or len(tags) > 10:
        raise ValueError("tags must be a mapping of at most 10 entries")
    for key, value in tags.items():
        _valid("tag key", key)
        if not isinstance(value, str) or len(value) > 256:
            raise ValueError(f"tag {key!r} must be a str of at most 256 characters")
    return dict(tags)


def _to_item(metadata: Metadata) -> dict[str, Any]:
    item: dict[str, Any] = {
        field: {"S": metadata[field]} for field in ("owner", "name", "sha256", "content_type")
    }
    item["size"] = {"N": str(metadata["size"])}
    item["tags"] = {"M": {key: {"S": value} for key, value in metadata["tags"].items()}}
    return item


def _from_item(item: Mapping[str, Any]) -> Metadata:
    metadata: Metadata = {
        field: item[field]["S"] for field in ("owner", "name", "sha256", "content_type")
    }
    metadata["size"] = int(item["size"]["N"])
    metadata["tags"] = {key: value["S"] for key, value in item.get("tags", {}).get("M", {}).items()}
    return metadata


def _cursor_of(key: Mapping[str, Any]) -> str:
    plain = {"owner": key["owner"]["S"], "name": key["name"]["S"]}
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode()


def _cursor_key(cursor: str, owner: str) -> dict[str, Any]:
    """The ExclusiveStartKey a cursor stands for; ValueError unless it is one of ``owner``'s."""
    try:
        if not isinstance(cursor, str):
            raise TypeError("a cursor is a str")
        plain = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        if plain["owner"] != owner:
            raise ValueError("the cursor belongs to another owner")
        _valid("name", plain["name"])
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
        raise ValueError(f"not a cursor of this store: {cursor!r:.60}") from None
    return {"owner": {"S": owner}, "name": {"S": plain["name"]}}
