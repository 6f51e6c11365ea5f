"""A content-addressed document store on S3, DynamoDB and SQS.

Bodies live in S3 under the SHA-256 of their bytes (``sha256/<hex>``), so identical
documents share one object and are uploaded once. Metadata lives in DynamoDB under
``(owner, name)``, written with a condition: repeating a put is harmless, and a put that
conflicts with an existing document loses cleanly. Each new document publishes exactly one
event to SQS. Throttling and server errors are retried with capped exponential backoff
and jitter; every input is validated before any AWS call.
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
from typing import Any, TypeAlias, TypeVar

from botocore.exceptions import ClientError

__all__ = ["DocumentConflict", "DocumentNotFound", "DocumentStore", "object_key"]

AwsClient: TypeAlias = Any
"""A boto3 client (``boto3.client("s3")`` ...); boto3 ships no type hints."""
Metadata: TypeAlias = dict[str, Any]
"""``{"owner", "name", "sha256", "size", "content_type", "tags"}`` of one document."""
T = TypeVar("T")
logger = logging.getLogger("document_store")

DEFAULT_CONTENT_TYPES = frozenset(
    {
        "application/json",
        "application/pdf",
        "image/jpeg",
        "image/png",
        "text/csv",
        "text/markdown",
        "text/plain",
    }
)
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days
MAX_TAGS = 10
MAX_TAG_VALUE = 256
_OWNER = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")
_TAG_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class DocumentConflict(Exception):
    """The owner already has a different document under this name; documents are immutable."""


class DocumentNotFound(LookupError):
    """No document has this owner and name."""


def object_key(sha256: str) -> str:
    """The S3 key of a body whose SHA-256 hex digest is ``sha256``: ``sha256/<digest>``."""
    return f"sha256/{sha256}"


class DocumentStore:
    """Documents of many owners: bodies in S3, metadata in DynamoDB, events in SQS.

    The clients are injected (``boto3.client("s3")`` and so on), as are ``sleep`` and the
    retry settings, so tests control every dependency and never wait in real time.
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
        """Check the settings (ValueError when one is out of range); no AWS call happens here."""
        for label, text in (("bucket", bucket), ("table", table), ("queue_url", queue_url)):
            if not isinstance(text, str) or not text:
                raise ValueError(f"{label} must be a non-empty str, got {text!r}")
        if not _is_int(max_bytes) or max_bytes < 1:
            raise ValueError(f"max_bytes must be an int >= 1, got {max_bytes!r}")
        if isinstance(content_types, str) or not content_types:
            raise ValueError("content_types must be a non-empty collection of media types")
        if not _is_int(max_attempts) or max_attempts < 1:
            raise ValueError(f"max_attempts must be an int >= 1, got {max_attempts!r}")
        if not 0 < base_delay <= max_delay:
            raise ValueError(f"need 0 < base_delay <= max_delay, got {base_delay}, {max_delay}")
        self._s3 = s3
        self._dynamodb = dynamodb
        self._sqs = sqs
        self._bucket = bucket
        self._table = table
        self._queue_url = queue_url
        self._max_bytes = max_bytes
        self._content_types = frozenset(content_types)
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep

    # --- writes ------------------------------------------------------------------------------

    def put(
        self,
        owner: str,
        name: str,
        body: bytes,
        *,
        content_type: str,
        tags: Mapping[str, str] | None = None,
    ) -> Metadata:
        """Store ``body`` as ``owner``'s document ``name``; return its metadata and ``created``.

        Repeating a put with the same body, content type and tags returns
        ``created: False`` and changes nothing. A put under an existing name with anything
        different raises DocumentConflict and changes nothing. Invalid input raises
        ValueError before any AWS call; AWS errors that are not throttling propagate.
        """
        _check_key(owner, name)
        self._check_body(body, content_type)
        metadata: Metadata = {
            "owner": owner,
            "name": name,
            "sha256": hashlib.sha256(body).hexdigest(),
            "size": len(body),
            "content_type": content_type,
            "tags": _checked_tags(tags),
        }
        self._upload_once(metadata["sha256"], body)
        try:
            self._call(
                self._dynamodb.put_item,
                TableName=self._table,
                Item=_to_item(metadata),
                ConditionExpression="attribute_not_exists(#name)",
                ExpressionAttributeNames={"#name": "name"},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            old = error.response.get("Item")
            existing = _from_item(old) if old else self.get(owner, name)
            if existing != metadata:
                raise DocumentConflict(
                    f"{owner}/{name} already holds a different document"
                ) from None
            return {**metadata, "created": False}
        self._call(
            self._sqs.send_message,
            QueueUrl=self._queue_url,
            MessageBody=json.dumps({"event": "document.created", **metadata}),
        )
        return {**metadata, "created": True}

    def _upload_once(self, sha256: str, body: bytes) -> None:
        """Upload ``body`` under its content key unless an object is already there."""
        key = object_key(sha256)
        try:
            self._call(self._s3.head_object, Bucket=self._bucket, Key=key)
            return  # the same bytes are stored already: deduplicated
        except ClientError as error:
            if _status(error) != 404:
                raise
        try:
            self._call(
                self._s3.put_object,
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType="application/octet-stream",
                ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
                IfNoneMatch="*",
            )
        except ClientError as error:
            if _status(error) != 412:  # 412: a concurrent put stored the same bytes first
                raise

    # --- reads -------------------------------------------------------------------------------

    def get(self, owner: str, name: str) -> Metadata | None:
        """Return the metadata of ``owner``'s document ``name``, or None: one GetItem."""
        _check_key(owner, name)
        answer = self._call(
            self._dynamodb.get_item,
            TableName=self._table,
            Key={"owner": {"S": owner}, "name": {"S": name}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return _from_item(item) if item else None

    def list_documents(
        self, owner: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of ``owner``'s documents in name order: ``{"documents", "next_cursor"}``.

        Pass ``next_cursor`` back to get the next page; it is None after the last one. A
        page holds at most ``limit`` (1 to 1000) documents, and may be empty at the end.
        """
        _check_owner(owner)
        if not _is_int(limit) or not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be an int from 1 to {MAX_PAGE_SIZE}, got {limit!r}")
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {":owner": {"S": owner}},
            "Limit": limit,
            "ConsistentRead": True,
        }
        if cursor is not None:
            query["ExclusiveStartKey"] = {"owner": {"S": owner}, "name": {"S": _decode(cursor)}}
        page = self._call(self._dynamodb.query, **query)
        last = page.get("LastEvaluatedKey")
        return {
            "documents": [_from_item(item) for item in page.get("Items", [])],
            "next_cursor": _encode(last["name"]["S"]) if last else None,
        }

    def iter_documents(
        self, owner: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Metadata]:
        """Every document of ``owner`` in name order, fetched ``page_size`` at a time."""
        cursor = None
        while True:
            page = self.list_documents(owner, limit=page_size, cursor=cursor)
            yield from page["documents"]
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def presign(self, owner: str, name: str, *, expires_in: int = 900) -> str:
        """A URL that GETs the document's bytes, with its content type, for ``expires_in`` s.

        ``expires_in`` is 1 to 604800 (seven days, the SigV4 limit); DocumentNotFound when
        there is no such document.
        """
        if not _is_int(expires_in) or not 1 <= expires_in <= MAX_PRESIGN_SECONDS:
            raise ValueError(
                f"expires_in must be an int from 1 to {MAX_PRESIGN_SECONDS}, got {expires_in!r}"
            )
        metadata = self.get(owner, name)  # validates owner and name before any call
        if metadata is None:
            raise DocumentNotFound(f"{owner}/{name}")
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": object_key(metadata["sha256"]),
                "ResponseContentType": metadata["content_type"],
            },
            ExpiresIn=expires_in,
        )
        return url

    # --- retries and validation --------------------------------------------------------------

    def _call(self, operation: Callable[..., T], **parameters: Any) -> T:
        """Call ``operation``, retrying throttling and 5xx errors with backoff and jitter."""
        attempt = 1
        while True:
            try:
                return operation(**parameters)
            except ClientError as error:
                if attempt >= self._max_attempts or not _retryable(error):
                    raise
                cap = min(self._max_delay, self._base_delay * 2 ** (attempt - 1))
                delay = cap / 2 + random.uniform(0, cap / 2)  # "equal jitter"
                logger.warning(
                    "%s failed with %s; retry %d in %.3f s",
                    getattr(operation, "__name__", "AWS call"),
                    _code(error),
                    attempt,
                    delay,
                )
                self._sleep(delay)
                attempt += 1

    def _check_body(self, body: bytes, content_type: str) -> None:
        if not isinstance(body, bytes):
            raise ValueError(f"body must be bytes, got {type(body).__name__}")
        if not 1 <= len(body) <= self._max_bytes:
            raise ValueError(f"body must hold 1 to {self._max_bytes} bytes, got {len(body)}")
        if not isinstance(content_type, str) or content_type not in self._content_types:
            allowed = ", ".join(sorted(self._content_types))
            raise ValueError(f"content type {content_type!r:.80} is not one of: {allowed}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_owner(owner: str) -> None:
    if not isinstance(owner, str) or not _OWNER.fullmatch(owner):
        raise ValueError(f"owner must be 1-63 of a-z, 0-9 and '-': {owner!r:.80}")


def _check_key(owner: str, name: str) -> None:
    _check_owner(owner)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"name must be 1-200 of A-Z, a-z, 0-9 and '._/-': {name!r:.80}")


def _checked_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping) or len(tags) > MAX_TAGS:
        raise ValueError(f"tags must be a mapping of at most {MAX_TAGS} entries")
    for key, value in tags.items():
        if not isinstance(key, str) or not _TAG_KEY.fullmatch(key):
            raise ValueError(f"tag key {key!r:.80} is not 1-64 of A-Z, a-z, 0-9 and '_.:-'")
        if not isinstance(value, str) or len(value) > MAX_TAG_VALUE:
            raise ValueError(f"tag {key!r} must be a str of at most {MAX_TAG_VALUE} characters")
    return dict(tags)


def _to_item(metadata: Metadata) -> dict[str, Any]:
    return {
        "owner": {"S": metadata["owner"]},
        "name": {"S": metadata["name"]},
        "sha256": {"S": metadata["sha256"]},
        "size": {"N": str(metadata["size"])},
        "content_type": {"S": metadata["content_type"]},
        "tags": {"M": {key: {"S": value} for key, value in metadata["tags"].items()}},
    }


def _from_item(item: Mapping[str, Any]) -> Metadata:
    return {
        "owner": item["owner"]["S"],
        "name": item["name"]["S"],
        "sha256": item["sha256"]["S"],
        "size": int(item["size"]["N"]),
        "content_type": item["content_type"]["S"],
        "tags": {key: value["S"] for key, value in item.get("tags", {}).get("M", {}).items()},
    }


def _encode(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        name = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (TypeError, ValueError, binascii.Error):
        raise ValueError(f"not a cursor this store returned: {cursor!r:.80}") from None
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a cursor this store returned: {cursor!r:.80}")
    return name


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _retryable(error: ClientError) -> bool:
    return _code(error) in RETRYABLE_CODES or _status(error) >= 500
