"""A content-addressed document store on S3, DynamoDB and SQS, validated by pydantic.

Arguments are validated by pydantic in strict mode (``validate_call`` on every public
method, a model for the settings): its ``ValidationError`` is a ``ValueError``, raised before
any AWS call. Every client is wrapped in a :class:`RetryingClient`, so each of its calls
retries throttling and 5xx errors with capped exponential backoff and equal jitter without
the store repeating it at every call site. Bodies are deduplicated by listing their content
key; pages read one item ahead, so the last page never comes back empty.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Annotated, Any, TypeAlias

from botocore.exceptions import ClientError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
    validate_call,
)

__all__ = ["DocumentConflict", "DocumentNotFound", "DocumentStore"]

AwsClient: TypeAlias = Any
"""A boto3 client; boto3 ships no type hints."""
Metadata: TypeAlias = dict[str, Any]
logger = logging.getLogger("document_store")

Owner = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")]
TagKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
TagValue = Annotated[str, StringConstraints(max_length=256)]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=10)]
PageSize = Annotated[int, Field(ge=1, le=1000)]
Lifetime = Annotated[int, Field(ge=1, le=604800)]
STRICT = ConfigDict(strict=True)

DEFAULT_CONTENT_TYPES = frozenset(
    {"application/json", "application/pdf", "image/jpeg", "image/png"}
    | {"text/csv", "text/markdown", "text/plain"}
)
TRANSIENT_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "RequestLimitExceeded", "RequestThrottled"}
    | {"SlowDown", "Throttling", "ThrottlingException", "TooManyRequestsException"}
)


class DocumentConflict(Exception):
    """Raised when a put names an existing document whose body, type or tags differ."""


class DocumentNotFound(LookupError):
    """Raised when presign is asked for a document that the owner does not have."""


class Settings(BaseModel):
    """The store's settings, checked once: names non-empty, limits positive, delays ordered."""

    model_config = ConfigDict(frozen=True)

    bucket: Annotated[str, Field(min_length=1)]
    table: Annotated[str, Field(min_length=1)]
    queue_url: Annotated[str, Field(min_length=1)]
    max_bytes: Annotated[int, Field(ge=1, strict=True)]
    content_types: Annotated[frozenset[str], Field(min_length=1)]
    max_attempts: Annotated[int, Field(ge=1, strict=True)]
    base_delay: Annotated[float, Field(gt=0)]
    max_delay: float

    @model_validator(mode="after")
    def _delays_are_ordered(self) -> Settings:
        if self.base_delay > self.max_delay:
            raise ValueError("base_delay must not exceed max_delay")
        return self


class RetryingClient:
    """A boto3 client whose every call retries transient errors with backoff and jitter.

    Retry ``n`` (from 1) sleeps between half and all of ``min(max_delay, base_delay *
    2**(n - 1))``; after ``max_attempts`` attempts the last ClientError propagates.
    """

    def __init__(
        self, client: AwsClient, settings: Settings, sleep: Callable[[float], None]
    ) -> None:
        """Wrap ``client``; ``settings`` give the attempts and delays, ``sleep`` waits."""
        self._client = client
        self._settings = settings
        self._sleep = sleep

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        """The client's ``operation``, retried when it fails transiently."""
        method = getattr(self._client, operation)

        def call(*args: Any, **kwargs: Any) -> Any:
            attempt = 1
            while True:
                try:
                    return method(*args, **kwargs)
                except ClientError as error:
                    if attempt >= self._settings.max_attempts or not _transient(error):
                        raise
                    delay = self._delay(attempt)
                    logger.warning("%s: %s, retry %d in %.3f s", operation, error, attempt, delay)
                    self._sleep(delay)
                    attempt += 1

        return call

    def _delay(self, attempt: int) -> float:
        cap = min(self._settings.max_delay, self._settings.base_delay * 2 ** (attempt - 1))
        return random.uniform(cap / 2, cap)


class DocumentStore:
    """An owner's documents: bodies in S3 under ``sha256/<hex>``, one DynamoDB item each.

    Every new document also publishes one ``document.created`` event to SQS.
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
        """Validate the settings (pydantic's ValueError) and wrap the clients in retries."""
        if isinstance(content_types, str):
            raise ValueError("content_types must be a collection of media types, not a str")
        self._settings = Settings(
            bucket=bucket,
            table=table,
            queue_url=queue_url,
            max_bytes=max_bytes,
            content_types=frozenset(content_types),
            max_attempts=max_attempts,
            base_delay=base_delay,
            max_delay=max_delay,
        )
        self._s3 = RetryingClient(s3, self._settings, sleep)
        self._dynamodb = RetryingClient(dynamodb, self._settings, sleep)
        self._sqs = RetryingClient(sqs, self._settings, sleep)

    @validate_call(config=STRICT)
    def put(
        self,
        owner: Owner,
        name: Name,
        body: Annotated[bytes, Field(min_length=1)],
        *,
        content_type: str,
        tags: Tags | None = None,
    ) -> Metadata:
        """Store ``body`` as ``owner``'s document ``name``; return its metadata and ``created``.

        An identical repeat returns ``created: False``; a different document under the same
        name raises DocumentConflict. Nothing reaches AWS when an argument is invalid.
        """
        settings = self._settings
        if len(body) > settings.max_bytes:
            raise ValueError(f"body holds {len(body)} bytes, more than {settings.max_bytes}")
        if content_type not in settings.content_types:
            raise ValueError(f"content type {content_type!r:.60} is not allowed")
        metadata: Metadata = {
            "owner": owner,
            "name": name,
            "sha256": hashlib.sha256(body).hexdigest(),
            "size": len(body),
            "content_type": content_type,
            "tags": dict(tags or {}),
        }
        self._upload_unless_stored(f"sha256/{metadata['sha256']}", body)
        try:
            self._dynamodb.put_item(
                TableName=settings.table,
                Item=_item(metadata),
                ConditionExpression="attribute_not_exists(#n)",
                ExpressionAttributeNames={"#n": "name"},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            stored = error.response.get("Item")
            if stored is None or _metadata(stored) != metadata:
                raise DocumentConflict(f"{owner}/{name} already holds another document") from None
            return {**metadata, "created": False}
        self._sqs.send_message(
            QueueUrl=settings.queue_url,
            MessageBody=json.dumps({"event": "document.created", **metadata}),
        )
        return {**metadata, "created": True}

    @validate_call(config=STRICT)
    def get(self, owner: Owner, name: Name) -> Metadata | None:
        """The metadata of ``owner``'s document ``name``, or None: a single consistent GetItem."""
        answer = self._dynamodb.get_item(
            TableName=self._settings.table,
            Key={"owner": {"S": owner}, "name": {"S": name}},
            ConsistentRead=True,
        )
        return _metadata(answer["Item"]) if "Item" in answer else None

    @validate_call(config=STRICT)
    def list_documents(
        self, owner: Owner, *, limit: PageSize = 100, cursor: str | None = None
    ) -> dict[str, Any]:
        """Up to ``limit`` of ``owner``'s documents after ``cursor``, in name order.

        Reads one item more than ``limit`` to learn whether another page exists, so
        ``next_cursor`` is None exactly on the last page, which is never empty.
        """
        query: dict[str, Any] = {
            "TableName": self._settings.table,
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":o": {"S": owner}},
            "Limit": limit + 1,
            "ConsistentRead": True,
        }
        if cursor is not None:
            query["ExclusiveStartKey"] = {"owner": {"S": owner}, "name": {"S": _after(cursor)}}
        page = self._dynamodb.query(**query)
        items = page.get("Items", [])
        documents = [_metadata(item) for item in items[:limit]]
        if len(items) > limit:
            next_cursor: str | None = documents[-1]["name"].encode().hex()
        elif "LastEvaluatedKey" in page:
            next_cursor = page["LastEvaluatedKey"]["name"]["S"].encode().hex()
        else:
            next_cursor = None
        return {"documents": documents, "next_cursor": next_cursor}

    def iter_documents(self, owner: str, *, page_size: int = 100) -> Iterator[Metadata]:
        """Every document of ``owner`` in name order, ``page_size`` per underlying page."""
        cursor: str | None = None
        while True:
            page = self.list_documents(owner, limit=page_size, cursor=cursor)
            yield from page["documents"]
            cursor = page["next_cursor"]
            if cursor is None:
                return

    @validate_call(config=STRICT)
    def presign(self, owner: Owner, name: Name, *, expires_in: Lifetime = 900) -> str:
        """A GET URL for ``owner``'s document ``name`` that expires after ``expires_in`` seconds.

        The URL serves the body with the document's content type; DocumentNotFound when
        there is no such document.
        """
        metadata = self.get(owner, name)
        if metadata is None:
            raise DocumentNotFound(f"{owner}/{name}")
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._settings.bucket,
                "Key": f"sha256/{metadata['sha256']}",
                "ResponseContentType": metadata["content_type"],
            },
            ExpiresIn=expires_in,
        )
        return url

    def _upload_unless_stored(self, key: str, body: bytes) -> None:
        """Upload ``body`` under ``key`` unless a listing shows the key exists already."""
        bucket = self._settings.bucket
        listing = self._s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        if any(entry["Key"] == key for entry in listing.get("Contents", [])):
            return
        try:
            self._s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status != 412:  # 412: another writer stored these bytes a moment ago
                raise


def _transient(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in TRANSIENT_CODES or int(status) >= 500


def _item(metadata: Metadata) -> dict[str, Any]:
    return {
        "owner": {"S": metadata["owner"]},
        "name": {"S": metadata["name"]},
        "sha256": {"S": metadata["sha256"]},
        "size": {"N": str(metadata["size"])},
        "content_type": {"S": metadata["content_type"]},
        "tags": {"M": {key: {"S": value} for key, value in metadata["tags"].items()}},
    }


def _metadata(item: Mapping[str, Any]) -> Metadata:
    tags = item.get("tags", {"M": {}})["M"]
    return {
        "owner": item["owner"]["S"],
        "name": item["name"]["S"],
        "sha256": item["sha256"]["S"],
        "size": int(item["size"]["N"]),
        "content_type": item["content_type"]["S"],
        "tags": {key: value["S"] for key, value in tags.items()},
    }


def _after(cursor: str) -> str:
    """The name a cursor (the hex of a name's UTF-8 bytes) points after."""
    try:
        name = bytes.fromhex(cursor).decode()
    except (TypeError, ValueError):
        raise ValueError(f"not a cursor of this store: {cursor!r:.60}") from None
    if not name:
        raise ValueError("an empty cursor")
    return name
