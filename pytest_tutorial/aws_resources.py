"""The declared buckets, tables and queues of a check's account, and a bucket read back.

Every check of an AWS tutorial starts from an empty account holding the resources the front
matter declares (30 to 60 times a run). Through moto's API that is a request made,
answered and parsed per resource: about 4 ms a check for object_store's bucket, table and
queue. Made directly in moto's backends it is about 0.2 ms.

moto's backends are its internals, so the direct way is trusted only after a run has
compared it with the API (:func:`calibrated_creation`, once, in the sandbox's warm-up):
the resources are made through the API and described through it, then made again directly
and described again. Only when the descriptions and queue URLs are the same are the
checks' resources made directly; otherwise, or if moto's internals are not what this
module knows, every check goes through the API as before.

:func:`stored_objects` reads a bucket's objects from moto's backend for the same reason
(about 2 ms an object through the API).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlparse

from pytest_tutorial.model import AwsResources, DynamoTable

Inspector = Callable[[str], Any]
"""The sandbox's plain client of a service (``inspector("s3")``)."""

_VOLATILE_TABLE_FIELDS = ("CreationDateTime", "TableId")
_VOLATILE_QUEUE_ATTRIBUTES = ("CreatedTimestamp", "LastModifiedTimestamp")


def table_definition(table: DynamoTable) -> dict[str, Any]:
    """The ``CreateTable`` arguments of a declared table: its keys, billed per request."""
    keys = [(table.partition_key, "HASH")]
    if table.sort_key is not None:
        keys.append((table.sort_key, "RANGE"))
    return {
        "TableName": table.name,
        "KeySchema": [{"AttributeName": key.name, "KeyType": role} for key, role in keys],
        "AttributeDefinitions": [
            {"AttributeName": key.name, "AttributeType": key.type} for key, _ in keys
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def queue_attributes(queue: str) -> dict[str, str]:
    """A declared queue's attributes: FIFO with content-based deduplication for ``.fifo``."""
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    return fifo if queue.endswith(".fifo") else {}


def create_through_api(resources: AwsResources, inspector: Inspector) -> dict[str, str]:
    """Create the declared resources through moto's API; the queues' URLs by name."""
    if resources.s3_buckets:
        s3 = inspector("s3")
        location = (
            {}
            if resources.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": resources.region}}
        )
        for bucket in resources.s3_buckets:
            s3.create_bucket(Bucket=bucket, **location)
    for table in resources.dynamodb_tables:
        inspector("dynamodb").create_table(**table_definition(table))
    urls = {}
    for queue in resources.sqs_queues:
        answer = inspector("sqs").create_queue(QueueName=queue, Attributes=queue_attributes(queue))
        urls[queue] = str(answer["QueueUrl"])
    return urls


class DirectCreation:
    """Creates the declared resources in moto's backends of one account and region."""

    def __init__(self, resources: AwsResources, account: str, sqs_endpoint: str) -> None:
        self.resources = resources
        self.account = account
        self.sqs_endpoint = urlparse(sqs_endpoint)

    def create(self) -> dict[str, str]:
        """Create them (in an emptied account); the queues' URLs by name."""
        from moto.dynamodb.models import dynamodb_backends
        from moto.s3.models import s3_backends
        from moto.sqs.models import sqs_backends

        region = self.resources.region
        for bucket in self.resources.s3_buckets:
            s3_backends[self.account]["aws"].create_bucket(bucket, region)
        for table in self.resources.dynamodb_tables:
            definition = table_definition(table)
            dynamodb_backends[self.account][region].create_table(
                definition["TableName"],
                schema=definition["KeySchema"],
                throughput=None,
                attr=definition["AttributeDefinitions"],
                global_indexes=[],
                indexes=[],
                streams=None,
                billing_mode=definition["BillingMode"],
                sse_specification=None,
                tags=[],
                deletion_protection_enabled=False,
                warm_throughput=None,
            )
        urls = {}
        for queue in self.resources.sqs_queues:
            made = sqs_backends[self.account][region].create_queue(
                queue, {}, **queue_attributes(queue)
            )
            urls[queue] = str(made.url(self.sqs_endpoint))
        return urls


def calibrated_creation(
    resources: AwsResources, inspector: Inspector, empty_account: Callable[[], None]
) -> DirectCreation | None:
    """A :class:`DirectCreation` that makes what the API makes, or None: use the API.

    Called in an open, empty account, which it leaves empty.
    """
    try:
        made = create_through_api(resources, inspector)
        described = describe(resources, inspector, made)
        account = _account_holding(resources)
        empty_account()
        if account is None:
            return None
        direct = DirectCreation(resources, account, inspector("sqs").meta.endpoint_url)
        same = describe(resources, inspector, direct.create()) == described
        return direct if same else None
    except Exception:
        return None
    finally:
        empty_account()


def describe(resources: AwsResources, inspector: Inspector, urls: dict[str, str]) -> Any:
    """What the API tells of the declared resources (timestamps and generated ids left out)."""
    buckets = []
    for bucket in resources.s3_buckets:
        s3 = inspector("s3")
        location = s3.get_bucket_location(Bucket=bucket)["LocationConstraint"]
        versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
        buckets.append((bucket, location, versioning))
    listed = sorted(entry["Name"] for entry in inspector("s3").list_buckets()["Buckets"])
    tables = []
    for table in resources.dynamodb_tables:
        description = inspector("dynamodb").describe_table(TableName=table.name)["Table"]
        for field in _VOLATILE_TABLE_FIELDS:
            description.pop(field, None)
        description.get("BillingModeSummary", {}).pop("LastUpdateToPayPerRequestDateTime", None)
        tables.append(description)
    queues = []
    for queue, url in sorted(urls.items()):
        attributes = inspector("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        kept = {
            name: value
            for name, value in attributes["Attributes"].items()
            if name not in _VOLATILE_QUEUE_ATTRIBUTES
        }
        queues.append((queue, url, kept))
    return {"buckets": buckets, "listed": listed, "tables": tables, "queues": queues}


def _account_holding(resources: AwsResources) -> str | None:
    """The one account whose backends hold every declared resource, or None."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends
    from moto.sqs.models import sqs_backends

    declared: list[tuple[Any, Sequence[str], str]] = [
        (s3_backends, resources.s3_buckets, "buckets"),
        (dynamodb_backends, [table.name for table in resources.dynamodb_tables], "tables"),
        (sqs_backends, resources.sqs_queues, "queues"),
    ]
    holders: list[set[str]] = []
    for backends, names, attribute in declared:
        for name in names:
            holders.append(
                {
                    account
                    for account, regions in dict.items(backends)
                    for backend in dict.values(regions)
                    if name in getattr(backend, attribute)
                }
            )
    accounts = set.union(*holders) if holders else set()
    return accounts.pop() if len(accounts) == 1 and all(holders) else None


def stored_objects(bucket: str, keys: list[str] | None) -> dict[str, bytes] | None:
    """The objects of ``bucket`` as moto's backend holds them, or None: ask its API instead.

    Read through the API, every object costs a request made, answered and parsed (about
    2 ms each; a property check reads back the bucket of each of its examples); the
    backend holds the same bytes. None unless exactly one backend holds the bucket, it
    keeps no versions, and each entry is a plain object, or when moto's internals are not
    what this reads.
    """
    try:
        from moto.s3.models import FakeKey, s3_backends

        [backend] = [
            backend
            for account in dict.values(s3_backends)
            for backend in dict.values(account)
            if bucket in backend.buckets
        ]
        found = backend.buckets[bucket]
        if found.is_versioned:
            return None
        entries = found.keys
        objects: dict[str, bytes] = {}
        for key in sorted(entries.keys()) if keys is None else keys:  # as listed by the API
            entry = entries.get(key)
            if entry is None:
                continue
            if type(entry) is not FakeKey:
                return None
            objects[key] = bytes(entry.value)
        return objects
    except Exception:
        return None
