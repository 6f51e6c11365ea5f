"""A check's declared resources: made in moto's backends only where that matches the API."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import moto  # noqa: F401  (loaded once here, not imported and dropped by every inner run)
import pytest
from moto.dynamodb.models import dynamodb_backends
from moto.s3.models import s3_backends
from moto.sqs.models import sqs_backends

from pytest_tutorial.aws_resources import DirectCreation, describe
from pytest_tutorial.aws_sandbox import AwsSandbox
from pytest_tutorial.fixtures.aws import AwsMock
from pytest_tutorial.model import AwsResources, DynamoTable, KeyAttribute

RESOURCES = AwsResources(
    region="us-east-1",
    s3_buckets=("unit-bucket", "second-bucket"),
    dynamodb_tables=(DynamoTable("items", KeyAttribute("id", "S"), KeyAttribute("n", "N")),),
    sqs_queues=("unit-queue", "events.fifo"),
)


@pytest.fixture
def warm_sandbox(request: pytest.FixtureRequest) -> Iterator[AwsSandbox]:
    """An installed sandbox after its warm-up (the region: the test's parameter, if any)."""
    region = getattr(request, "param", RESOURCES.region)
    box = AwsSandbox(dataclasses.replace(RESOURCES, region=region))
    box.install()
    try:
        box.warm_up()
        yield box
    finally:
        box.uninstall()


def _a_checks_resources(sandbox: AwsSandbox) -> tuple[Any, dict[str, str]]:
    """What the API describes of a new check's resources, and its queue URLs."""
    mock = AwsMock(sandbox)
    mock.start()
    try:
        return describe(sandbox.resources, mock.inspector, mock.queue_urls), dict(mock.queue_urls)
    finally:
        mock.stop()


@pytest.mark.parametrize("warm_sandbox", ["us-east-1", "eu-west-1"], indirect=True)
def test_after_the_warm_up_a_check_gets_directly_what_the_api_makes(
    warm_sandbox: AwsSandbox,
) -> None:
    assert warm_sandbox.direct_creation is not None  # this moto's internals were recognised
    direct = _a_checks_resources(warm_sandbox)
    warm_sandbox.direct_creation = None
    through_the_api = _a_checks_resources(warm_sandbox)
    assert direct == through_the_api
    assert sorted(direct[1]) == ["events.fifo", "unit-queue"]


def _one_more_bucket(creation: DirectCreation) -> None:
    s3_backends[creation.account]["aws"].create_bucket("one-more", creation.resources.region)


def _provisioned_table(creation: DirectCreation) -> None:
    table = dynamodb_backends[creation.account][creation.resources.region].tables["items"]
    table.billing_mode = "PROVISIONED"


def _slower_queue(creation: DirectCreation) -> None:
    queue = sqs_backends[creation.account][creation.resources.region].queues["unit-queue"]
    queue.visibility_timeout = 5  # type: ignore[attr-defined]  # set from its attributes


@pytest.mark.parametrize("difference", [_one_more_bucket, _provisioned_table, _slower_queue])
def test_a_direct_way_that_makes_anything_else_is_never_used(
    difference: Callable[[DirectCreation], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = DirectCreation.create

    def create_and_differ(creation: DirectCreation) -> dict[str, str]:
        urls = original(creation)
        difference(creation)
        return urls

    monkeypatch.setattr(DirectCreation, "create", create_and_differ)
    box = AwsSandbox(RESOURCES)
    box.install()
    try:
        box.warm_up()
        assert box.direct_creation is None
        described, _ = _a_checks_resources(box)
    finally:
        box.uninstall()
    assert described["listed"] == ["second-bucket", "unit-bucket"]
    assert described["tables"][0]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_a_check_whose_direct_creation_fails_gets_its_resources_through_the_api(
    warm_sandbox: AwsSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _a_checks_resources(warm_sandbox)

    def fail(creation: DirectCreation) -> dict[str, str]:
        s3_backends[creation.account]["aws"].create_bucket("half-made", RESOURCES.region)
        raise TypeError("moto's backend changed")

    monkeypatch.setattr(DirectCreation, "create", fail)
    assert _a_checks_resources(warm_sandbox) == expected  # and nothing half made is left
