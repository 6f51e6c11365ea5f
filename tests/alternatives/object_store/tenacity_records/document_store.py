"""A content-addressed document store on S3, DynamoDB and SQS, built from typed records.

A document is a frozen :class:`Document` record. boto3's ``TypeSerializer`` turns a record
into its DynamoDB item and ``TypeDeserializer`` reads items back, so no attribute is
typed by hand. tenacity runs the one retry policy (throttling and 5xx errors, capped
exponential backoff with equal jitter, the injected ``sleep``). A conditional write that
fails is resolved by reading the stored item back, consistently, and comparing records.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, TypeAlias, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from tenacity import (
    RetryCallState,
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_attempt,
)

__all__ = ["Document", "DocumentConflict", "DocumentNotFound", "DocumentStore"]

AwsClient: TypeAlias = Any
"""A boto3 client; boto3 ships no type hints."""
T = TypeVar("T")
logger = logging.getLogger("document_store")

DEFAULT_CONTENT_TYPES = frozenset(
    {"application/json", "application/pdf", "image/jpeg", "image/png"}
    | {"text/csv", "text/markdown", "text/plain"}
)
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "RequestLimitExceeded", "RequestThrottled"}
    | {"SlowDown", "Throttling", "ThrottlingException", "TooManyRequestsException"}
)
PAGE_LIMIT = 1000
LONGEST_URL_LIFETIME = 604800
TAG_COUNT = 10
TAG_VALUE_LENGTH = 256
OWNER_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")
TAG_KEY_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


class DocumentConflict(Exception):
    """Raised when the owner already keeps a different document under the requested name."""


class DocumentNotFound(LookupError):
    """Raised when no document exists for the given owner and name."""


@dataclass(frozen=True)
class Document:
    """The metadata record of one document: who owns it, its name, and its body's identity."""

    owner: str
    name: str
    sha256: str
    size: int
    content_type: str
    tags: dict[str, str]

    @property
    def key(self) -> str:
        """The S3 key of this document's body: ``sha256/`` and the body's hex digest."""
        return f"sha256/{self.sha256}"

    def as_dict(self) -> dict[str, Any]:
        """This record as plain values, the shape callers and event consumers receive."""
        return asdict(self)

    def as_item(self) -> dict[str, Any]:
        """This record as a typed DynamoDB item, one attribute per field."""
        return {field: _SERIALIZER.serialize(value) for field, value in self.as_dict().items()}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Document:
        """The record a typed DynamoDB ``item`` holds (numbers come back as Decimal)."""
        plain = {field: _DESERIALIZER.deserialize(value) for field, value in item.items()}
        size = plain["size"]
        return cls(
            owner=plain["owner"],
            name=plain["name"],
            sha256=plain["sha256"],
            size=int(size) if isinstance(size, Decimal) else size,
            content_type=plain["content_type"],
            tags=dict(plain.get("tags", {})),
        )


class DocumentStore:
    """Documents of many owners: bodies in S3 by content hash, records in DynamoDB, events in SQS.

    Clients, retry settings and ``sleep`` are injected; nothing calls AWS at construction.
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
        """Keep the clients and settings; ValueError names the first setting out of range."""
        _require(all(isinstance(t, str) and t for t in (bucket, table, queue_url)), "names")
        _require(_is_int(max_bytes) and max_bytes >= 1, "max_bytes must be a positive int")
        _require(not isinstance(content_types, str) and bool(content_types), "content_types")
        _require(_is_int(max_attempts) and max_attempts >= 1, "max_attempts must be >= 1")
        _require(0 < base_delay <= max_delay, "need 0 < base_delay <= max_delay")
        self._s3, self._dynamodb, self._sqs = s3, dynamodb, sqs
        self._bucket, self._table, self._queue_url = bucket, table, queue_url
        self._max_bytes = max_bytes
        self._content_types = frozenset(content_types)
        self._max_attempts = max_attempts
        self._base_delay, self._max_delay = base_delay, max_delay
        self._sleep = sleep

    def put(
        self,
        owner: str,
        name: str,
        body: bytes,
        *,
        content_type: str,
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Store ``body`` as ``owner``'s document ``name`` and return its metadata and ``created``.

        A repeated identical put returns ``created: False``; a different one under the same
        name raises DocumentConflict. Invalid input raises ValueError before any AWS call.
        """
        _check_owner(owner)
        _check_name(name)
        _require(isinstance(body, bytes), "body must be bytes")
        _require(1 <= len(body) <= self._max_bytes, f"body must hold 1 to {self._max_bytes} bytes")
        _require(
            isinstance(content_type, str) and content_type in self._content_types,
            "content type is not allowed",
        )
        document = Document(
            owner=owner,
            name=name,
            sha256=hashlib.sha256(body).hexdigest(),
            size=len(body),
            content_type=content_type,
            tags=_checked_tags(tags),
        )
        self._store_body(document.key, body)
        try:
            self._retrying(
                self._dynamodb.put_item,
                TableName=self._table,
                Item=document.as_item(),
                ConditionExpression="attribute_not_exists(#owner)",
                ExpressionAttributeNames={"#owner": "owner"},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            if self._read(owner, name) != document:
                raise DocumentConflict(f"{owner}/{name} holds another document") from None
            return {**document.as_dict(), "created": False}
        event = {**document.as_dict(), "event": "document.created"}
        self._retrying(
            self._sqs.send_message, QueueUrl=self._queue_url, MessageBody=json.dumps(event)
        )
        return {**document.as_dict(), "created": True}

    def get(self, owner: str, name: str) -> dict[str, Any] | None:
        """The metadata of ``owner``'s document ``name``, or None when there is none."""
        _check_owner(owner)
        _check_name(name)
        document = self._read(owner, name)
        return document.as_dict() if document else None

    def list_documents(
        self, owner: str, *, limit: int = 100, cursor: str | None = None
    ) -> dict[str, Any]:
        """A page of at most ``limit`` of ``owner``'s documents in name order, and the next cursor.

        The cursor is None once the last page was returned.
        """
        _check_owner(owner)
        _require(_is_int(limit) and 1 <= limit <= PAGE_LIMIT, "limit must be an int, 1 to 1000")
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {":owner": {"S": owner}},
            "Limit": limit,
            "ConsistentRead": True,
        }
        if cursor is not None:
            start = _cursor_name(cursor)
            query["ExclusiveStartKey"] = {"owner": {"S": owner}, "name": {"S": start}}
        page = self._retrying(self._dynamodb.query, **query)
        last = page.get("LastEvaluatedKey")
        return {
            "documents": [Document.from_item(item).as_dict() for item in page.get("Items", [])],
            "next_cursor": _cursor(_DESERIALIZER.deserialize(last["name"])) if last else None,
        }

    def iter_documents(self, owner: str, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Yield every document of ``owner`` in name order, reading ``page_size`` per request."""
        cursor: str | None = None
        while True:
            page = self.list_documents(owner, limit=page_size, cursor=cursor)
            yield from page["documents"]
            cursor = page["next_cursor"]
            if cursor is None:
                break

    def presign(self, owner: str, name: str, *, expires_in: int = 900) -> str:
        """A URL serving ``owner``'s document ``name`` with its content type for ``expires_in`` s.

        Raises DocumentNotFound when the document does not exist.
        """
        _check_owner(owner)
        _check_name(name)
        _require(
            _is_int(expires_in) and 1 <= expires_in <= LONGEST_URL_LIFETIME,
            "expires_in must be an int, 1 to 604800",
        )
        document = self._read(owner, name)
        if document is None:
            raise DocumentNotFound(f"{owner}/{name}")
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": document.key,
                "ResponseContentType": document.content_type,
            },
            ExpiresIn=expires_in,
        )
        return url

    def _read(self, owner: str, name: str) -> Document | None:
        """One consistent GetItem of the record at (owner, name)."""
        answer = self._retrying(
            self._dynamodb.get_item,
            TableName=self._table,
            Key={"owner": {"S": owner}, "name": {"S": name}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return Document.from_item(item) if item else None

    def _store_body(self, key: str, body: bytes) -> None:
        """Upload ``body`` under ``key`` unless S3 holds it already (HeadObject, IfNoneMatch)."""
        try:
            self._retrying(self._s3.head_object, Bucket=self._bucket, Key=key)
        except ClientError as error:
            if _status(error) != 404:
                raise
        else:
            return
        try:
            self._retrying(
                self._s3.put_object, Bucket=self._bucket, Key=key, Body=body, IfNoneMatch="*"
            )
        except ClientError as error:
            if _status(error) != 412:
                raise

    def _retrying(self, operation: Callable[..., T], **parameters: Any) -> T:
        """Run ``operation`` under the retry policy: transient errors only, at most max_attempts."""
        policy = Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._backoff,
            retry=retry_if_exception(_transient),
            sleep=self._sleep,
            before_sleep=before_sleep_log(logger, logging.WARNING),
            reraise=True,
        )
        return policy(operation, **parameters)

    def _backoff(self, state: RetryCallState) -> float:
        """Equal jitter: half the capped exponential delay, plus a random part of the other half."""
        cap: float = min(self._max_delay, self._base_delay * 2 ** (state.attempt_number - 1))
        return cap / 2 + random.uniform(0, cap / 2)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_owner(owner: object) -> None:
    _require(isinstance(owner, str) and bool(OWNER_PATTERN.fullmatch(owner)), "invalid owner")


def _check_name(name: object) -> None:
    _require(isinstance(name, str) and bool(NAME_PATTERN.fullmatch(name)), "invalid name")


def _checked_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    if tags is None:
        return {}
    _require(isinstance(tags, Mapping) and len(tags) <= TAG_COUNT, "at most 10 tags")
    for key, value in tags.items():
        _require(isinstance(key, str) and bool(TAG_KEY_PATTERN.fullmatch(key)), "bad tag key")
        _require(isinstance(value, str) and len(value) <= TAG_VALUE_LENGTH, "bad tag value")
    return dict(tags)


def _cursor(name: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": name}).encode()).decode()


def _cursor_name(cursor: str) -> str:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error, AttributeError):
        raise ValueError("not a cursor of this store") from None
    name = decoded.get("after") if isinstance(decoded, dict) else None
    _require(isinstance(name, str) and bool(NAME_PATTERN.fullmatch(name)), "not a cursor")
    return str(name)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _transient(error: BaseException) -> bool:
    """Throttling and server-side (5xx) errors: the ones a later attempt can get past."""
    if not isinstance(error, ClientError):
        return False
    return _code(error) in THROTTLING_CODES or _status(error) >= 500
