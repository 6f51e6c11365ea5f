"""A content-addressed document store on S3, DynamoDB and SQS.

This is your starting point for the object_store tutorial
(``pytest_tutorial/tutorials/object_store/tutorial.md``). The names, signatures, type hints
and docstrings are the contract the checks test; every body raises NotImplementedError and
says which step of the tutorial implements it. Replace the bodies, keep the signatures.
Check your progress from the repository root with ``pytest --tutorial=object_store``.

TODO: as you implement each piece, replace the TODO notes in its docstring with a
description of what your code does: the documentation check counts a docstring that
still says TODO as missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, TypeAlias

__all__ = ["DocumentConflict", "DocumentNotFound", "DocumentStore"]

AwsClient: TypeAlias = Any
"""A boto3 client (``boto3.client("s3")`` ...); boto3 ships no type hints."""
Metadata: TypeAlias = dict[str, Any]
"""``{"owner", "name", "sha256", "size", "content_type", "tags"}`` of one document."""

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


class DocumentConflict(Exception):
    """TODO: raised when the owner already has a different document under this name (Step 2)."""


class DocumentNotFound(LookupError):
    """TODO: raised by presign() when no document has this owner and name (Step 3)."""


class DocumentStore:
    """Documents of many owners: bodies in S3, metadata in DynamoDB, events in SQS.

    TODO: say how the pieces fit: bodies under ``sha256/<hex digest>`` (shared by identical
    documents), one DynamoDB item per (owner, name), one SQS event per new document.
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
        """Store the clients and settings (Step 1).

        TODO: raise ValueError when bucket, table or queue_url is empty, ``max_bytes < 1``,
        ``content_types`` is empty, ``max_attempts < 1`` or not ``0 < base_delay <=
        max_delay``. Make no AWS call here.
        """
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

    def put(
        self,
        owner: str,
        name: str,
        body: bytes,
        *,
        content_type: str,
        tags: Mapping[str, str] | None = None,
    ) -> Metadata:
        """Store ``body`` as ``owner``'s document ``name``; return its metadata (Step 2).

        TODO: validate everything first (Step 1). Upload the body to S3 under
        ``sha256/<hex digest>`` unless it is there already (Step 4). Write the item with
        ``ConditionExpression="attribute_not_exists(#name)"``: if the condition fails and
        the stored document is identical, return it with ``created: False``; if it differs,
        raise DocumentConflict. Send one SQS event only for a new document.
        """
        raise NotImplementedError("put is not implemented yet: see Step 2 of the tutorial")

    def get(self, owner: str, name: str) -> Metadata | None:
        """Return the metadata of ``owner``'s document ``name``, or None (Step 2).

        TODO: one consistent GetItem on ``{"owner": ..., "name": ...}``.
        """
        raise NotImplementedError("get is not implemented yet: see Step 2 of the tutorial")

    def list_documents(
        self, owner: str, *, limit: int = 100, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of ``owner``'s documents in name order (Step 3).

        TODO: one consistent Query (``ConsistentRead=True``) with ``Limit`` and
        ``ExclusiveStartKey``; return ``{"documents": [...], "next_cursor": str | None}``, the
        cursor encoding ``LastEvaluatedKey``.
        """
        raise NotImplementedError(
            "list_documents is not implemented yet: see Step 3 of the tutorial"
        )

    def iter_documents(self, owner: str, *, page_size: int = 100) -> Iterator[Metadata]:
        """Every document of ``owner`` in name order, page after page (Step 3).

        TODO: follow ``next_cursor`` until it is None, yielding every page, the last too.
        """
        raise NotImplementedError(
            "iter_documents is not implemented yet: see Step 3 of the tutorial"
        )

    def presign(self, owner: str, name: str, *, expires_in: int = 900) -> str:
        """A URL that downloads the document for ``expires_in`` seconds (Step 3).

        TODO: ValueError unless ``1 <= expires_in <= 604800``; DocumentNotFound for an
        unknown document; else ``generate_presigned_url("get_object", ...)`` on the
        content key with ``ResponseContentType`` and ``ExpiresIn=expires_in``.
        """
        raise NotImplementedError("presign is not implemented yet: see Step 3 of the tutorial")
