"""Known-bad ``document_store`` implementations for the object_store tutorial.

:class:`NaiveDocumentStore` is a deliberately plain implementation of the tutorial's API
(no checksums, a GetItem after a failed condition, a simple retry loop). With its default
flags it keeps the contract; each flag switches on one classic bug:

- ``content_keys=False``: bodies are stored under ``documents/<owner>/<name>``, one copy
  per document, so identical bodies are stored as often as they are put;
- ``event_every_put=True``: an event is sent on every put, also when the put changed
  nothing, so consumers see duplicates.

The harness builds one self-contained ``document_store.py`` per bug of :data:`KNOWN_BUGS`
from this source (:mod:`pytest_tutorial.known_bugs`), and the correct one with the defaults,
and runs the learner's own tests against each, which must catch every bug. The hidden bugs
are mutants of the correct build (``hidden_bugs.json``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

__all__ = ["DocumentConflict", "DocumentNotFound", "NaiveDocumentStore"]

CONTENT_TYPES = frozenset(
    {"application/json", "application/pdf", "image/jpeg", "image/png", "text/csv"}
    | {"text/markdown", "text/plain"}
)
RETRYABLE = ("Throttl", "ProvisionedThroughputExceeded", "SlowDown", "RequestLimitExceeded")
_OWNER = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")
_TAG_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

KNOWN_BUGS = {
    "copies_per_document": {
        "flags": {"content_keys": False},
        "description": "stores one S3 copy per document (documents/<owner>/<name>), so "
        "identical bodies are not shared",
    },
    "duplicate_events": {
        "flags": {"event_every_put": True},
        "description": "sends an event on every put, also one that changed nothing",
    },
}
"""The known bugs: the flags that switch each on, and what it does (for messages)."""
PUBLIC_NAMES = {"NaiveDocumentStore": "DocumentStore"}
"""The contract's name of each class, in the modules built from this one."""


class DocumentConflict(Exception):
    """Another document already has this owner and name."""


class DocumentNotFound(LookupError):
    """No such document."""


class NaiveDocumentStore:
    """The tutorial's document store, simply written, with two switchable bugs."""

    def __init__(
        self,
        *,
        s3: Any,
        dynamodb: Any,
        sqs: Any,
        bucket: str,
        table: str,
        queue_url: str,
        max_bytes: int = 10 * 1024 * 1024,
        content_types: Collection[str] = CONTENT_TYPES,
        max_attempts: int = 4,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        content_keys: bool = True,
        event_every_put: bool = False,
    ) -> None:
        """Check the settings like the reference does; the last two flags are the bugs."""
        if not (bucket and table and queue_url) or max_bytes < 1 or not content_types:
            raise ValueError("bucket, table, queue_url, max_bytes and content_types are required")
        if max_attempts < 1 or not 0 < base_delay <= max_delay:
            raise ValueError("need max_attempts >= 1 and 0 < base_delay <= max_delay")
        self.s3, self.dynamodb, self.sqs = s3, dynamodb, sqs
        self.bucket, self.table, self.queue_url = bucket, table, queue_url
        self.max_bytes, self.content_types = max_bytes, frozenset(content_types)
        self.max_attempts, self.base_delay, self.max_delay = max_attempts, base_delay, max_delay
        self.sleep = sleep
        self.content_keys = content_keys
        self.event_every_put = event_every_put

    def put(
        self,
        owner: str,
        name: str,
        body: bytes,
        *,
        content_type: str,
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Upload, write the metadata if absent, send the event."""
        _check(owner, name)
        if not isinstance(body, bytes) or not 1 <= len(body) <= self.max_bytes:
            raise ValueError("body must be 1..max_bytes bytes")
        if not isinstance(content_type, str) or content_type not in self.content_types:
            raise ValueError(f"content type {content_type!r} is not allowed")
        meta = {
            "owner": owner,
            "name": name,
            "sha256": hashlib.sha256(body).hexdigest(),
            "size": len(body),
            "content_type": content_type,
            "tags": _tags(tags),
        }
        key = f"sha256/{meta['sha256']}" if self.content_keys else f"documents/{owner}/{name}"
        try:
            self._call(self.s3.head_object, Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response["ResponseMetadata"]["HTTPStatusCode"] != 404:
                raise
            self._call(self.s3.put_object, Bucket=self.bucket, Key=key, Body=body)
        created = True
        try:
            self._call(
                self.dynamodb.put_item,
                TableName=self.table,
                Item=_item(meta),
                ConditionExpression="attribute_not_exists(#n)",
                ExpressionAttributeNames={"#n": "name"},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            if self.get(owner, name) != meta:
                raise DocumentConflict(f"{owner}/{name}") from None
            created = False
        if created or self.event_every_put:
            event = json.dumps({"event": "document.created", **meta})
            self._call(self.sqs.send_message, QueueUrl=self.queue_url, MessageBody=event)
        return {**meta, "created": created}

    def get(self, owner: str, name: str) -> dict[str, Any] | None:
        """The metadata, or None."""
        _check(owner, name)
        found = self._call(
            self.dynamodb.get_item,
            TableName=self.table,
            Key={"owner": {"S": owner}, "name": {"S": name}},
            ConsistentRead=True,
        ).get("Item")
        return _meta(found) if found else None

    def list_documents(
        self, owner: str, *, limit: int = 100, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of documents."""
        _check(owner, "x")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ValueError("limit must be 1..1000")
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":o": {"S": owner}},
            "Limit": limit,
        }
        if cursor is not None:
            try:
                start = base64.urlsafe_b64decode(cursor.encode()).decode()
            except ValueError:
                raise ValueError("bad cursor") from None
            _check(owner, start)
            query["ExclusiveStartKey"] = {"owner": {"S": owner}, "name": {"S": start}}
        page = self._call(self.dynamodb.query, **query)
        last = page.get("LastEvaluatedKey")
        return {
            "documents": [_meta(found) for found in page.get("Items", [])],
            "next_cursor": base64.urlsafe_b64encode(last["name"]["S"].encode()).decode()
            if last
            else None,
        }

    def iter_documents(self, owner: str, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every document, page after page."""
        cursor = None
        while True:
            page = self.list_documents(owner, limit=page_size, cursor=cursor)
            yield from page["documents"]
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def presign(self, owner: str, name: str, *, expires_in: int = 900) -> str:
        """A presigned GET URL."""
        _check(owner, name)
        if isinstance(expires_in, bool) or not isinstance(expires_in, int):
            raise ValueError("expires_in must be an int")
        if not 1 <= expires_in <= 604800:
            raise ValueError("expires_in must be 1..604800")
        meta = self.get(owner, name)
        if meta is None:
            raise DocumentNotFound(f"{owner}/{name}")
        key = f"sha256/{meta['sha256']}" if self.content_keys else f"documents/{owner}/{name}"
        params = {"Bucket": self.bucket, "Key": key, "ResponseContentType": meta["content_type"]}
        return str(
            self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        )

    def _call(self, operation: Callable[..., Any], **parameters: Any) -> Any:
        for attempt in range(1, self.max_attempts + 1):
            try:
                return operation(**parameters)
            except ClientError as error:
                code = str(error.response["Error"]["Code"])
                status = error.response["ResponseMetadata"]["HTTPStatusCode"]
                retryable = code.startswith(RETRYABLE) or status >= 500
                if attempt == self.max_attempts or not retryable:
                    raise
                cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
                self.sleep(cap / 2 + random.uniform(0, cap / 2))
        raise AssertionError("unreachable")


def _check(owner: object, name: object) -> None:
    if not isinstance(owner, str) or not _OWNER.fullmatch(owner):
        raise ValueError(f"bad owner {owner!r}")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"bad name {name!r}")


def _tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    tags = dict(tags or {})
    if len(tags) > 10 or not all(
        isinstance(k, str) and _TAG_KEY.fullmatch(k) and isinstance(v, str) and len(v) <= 256
        for k, v in tags.items()
    ):
        raise ValueError("bad tags")
    return tags


def _item(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "owner": {"S": meta["owner"]},
        "name": {"S": meta["name"]},
        "sha256": {"S": meta["sha256"]},
        "size": {"N": str(meta["size"])},
        "content_type": {"S": meta["content_type"]},
        "tags": {"M": {k: {"S": v} for k, v in meta["tags"].items()}},
    }


def _meta(found: dict[str, Any]) -> dict[str, Any]:
    return {
        "owner": found["owner"]["S"],
        "name": found["name"]["S"],
        "sha256": found["sha256"]["S"],
        "size": int(found["size"]["N"]),
        "content_type": found["content_type"]["S"],
        "tags": {k: v["S"] for k, v in found.get("tags", {}).get("M", {}).items()},
    }
