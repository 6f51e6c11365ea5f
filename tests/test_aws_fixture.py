"""The aws fixture family: the sandbox, the per-check mock, and what can never reach AWS."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import moto  # noqa: F401  (loaded once here, not imported and dropped by every inner run)
import pytest
from botocore.exceptions import ClientError
from botocore.httpsession import URLLib3Session
from moto.core.models import botocore_stubber

from pytest_tutorial import aws_resources
from pytest_tutorial.aws_sandbox import DEAD_PROXY, AwsSandbox, RealAwsCallBlocked
from pytest_tutorial.fixtures import aws as aws_fixture
from pytest_tutorial.fixtures.aws import AwsMock, plain_attribute
from pytest_tutorial.model import AwsResources, DynamoTable, KeyAttribute

RESOURCES = AwsResources(
    region="us-east-1",
    s3_buckets=("unit-bucket",),
    dynamodb_tables=(DynamoTable("items", KeyAttribute("id", "S"), KeyAttribute("n", "N")),),
    sqs_queues=("unit-queue",),
)
NETWORK_GUARD = '''"""Refuse and log every network connection of this process (a sitecustomize)."""
import os
import socket

_LOG = os.environ["NETWORK_GUARD_LOG"]
_LOCAL = {None, "localhost", "127.0.0.1", "::1", b"localhost"}


def _record(what):
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(f"{os.getpid()} {what}\\n")


def _guard(original):
    def connect(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _record(f"connect {address!r}")
            raise OSError(f"network guard: no connection to {address!r}")
        return original(self, address, *args)
    return connect


socket.socket.connect = _guard(socket.socket.connect)
socket.socket.connect_ex = _guard(socket.socket.connect_ex)
_getaddrinfo = socket.getaddrinfo


def getaddrinfo(host, *args, **kwargs):
    if host not in _LOCAL:
        _record(f"dns {host!r}")
        raise socket.gaierror(f"network guard: no lookup of {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = getaddrinfo
'''
"""A ``sitecustomize.py``: put its folder on PYTHONPATH and every process of a run,
learner-test children included, refuses and logs connections and DNS lookups."""


def install_network_guard(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the subprocesses of this test refuse the network; returns the log's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(NETWORK_GUARD, encoding="utf-8")
    log = folder / "network.log"
    log.write_text("", encoding="utf-8")
    monkeypatch.setenv("NETWORK_GUARD_LOG", str(log))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
    )
    return log


@pytest.fixture
def sandbox() -> Iterator[AwsSandbox]:
    """An installed sandbox, uninstalled afterwards."""
    box = AwsSandbox(RESOURCES)
    box.install()
    try:
        yield box
    finally:
        box.uninstall()


@pytest.fixture
def mock(sandbox: AwsSandbox) -> Iterator[AwsMock]:
    """A started AwsMock with RESOURCES."""
    started = AwsMock(sandbox)
    started.start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every socket connect() of the test, refused."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


# --- the sandbox --------------------------------------------------------------------------


def test_sandbox_replaces_the_learners_aws_settings_and_restores_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mine = {
        "AWS_PROFILE": "prod",
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_ENDPOINT_URL": "https://example.com",
        "AWS_CONFIG_FILE": "/home/me/.aws/config",
        "HTTPS_PROXY": "http://proxy.corp:3128",
    }
    for name, value in mine.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    original_send = URLLib3Session.send
    box = AwsSandbox(RESOURCES)
    box.install()
    try:
        assert "AWS_PROFILE" not in os.environ
        assert "AWS_ENDPOINT_URL" not in os.environ
        assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
        assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
        assert os.environ["AWS_CONFIG_FILE"] == os.devnull
        assert os.environ["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
        assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
        assert os.environ["HTTPS_PROXY"] == os.environ["http_proxy"] == DEAD_PROXY
        assert URLLib3Session.send is not original_send
        assert boto3.DEFAULT_SESSION is None
    finally:
        box.uninstall()
    assert {name: os.environ.get(name) for name in mine} == mine
    assert "AWS_SESSION_TOKEN" not in os.environ
    assert URLLib3Session.send is original_send


def test_a_request_outside_a_check_is_refused_and_names_the_line(
    sandbox: AwsSandbox, connections: list[object]
) -> None:
    client = sandbox.new_client("s3")
    with pytest.raises(RealAwsCallBlocked, match="tried to reach real AWS") as raised:
        client.list_buckets()
    assert f"{Path(__file__).name}:" in str(raised.value)
    assert sandbox.blocked == [str(raised.value)]
    assert connections == []


def test_a_client_without_mocks_hook_is_answered_by_the_mock(
    mock: AwsMock, connections: list[object]
) -> None:
    """A client from a session made before moto was loaded lacks moto's hook."""
    session = botocore.session.get_session()
    session.unregister("before-send", botocore_stubber)
    early = session.create_client("s3", region_name="us-east-1")
    assert [bucket["Name"] for bucket in early.list_buckets()["Buckets"]] == ["unit-bucket"]
    assert connections == []


def test_a_client_with_a_custom_endpoint_is_refused(
    mock: AwsMock, connections: list[object]
) -> None:
    client = boto3.session.Session().client("s3", endpoint_url="http://localstack.internal:4566")
    with pytest.raises(RealAwsCallBlocked, match="which moto does not serve"):
        client.list_buckets()
    assert connections == []


# --- one check's mock ------------------------------------------------------------------------


def test_the_warm_up_leaves_nothing_for_the_checks(sandbox: AwsSandbox) -> None:
    sandbox.warm_up()
    assert not botocore_stubber.enabled, "the warm-up's mock is still running"
    mock = AwsMock(sandbox)
    mock.start()
    try:
        assert sorted(b["Name"] for b in mock.inspector("s3").list_buckets()["Buckets"]) == [
            "unit-bucket"
        ]
        assert mock.inspector("dynamodb").list_tables()["TableNames"] == ["items"]
        assert mock.calls == []
    finally:
        mock.stop()
    assert sandbox.blocked == []


def test_declared_resources_exist_and_start_empty(mock: AwsMock) -> None:
    assert mock.s3_objects() == {}
    assert mock.dynamodb_items() == []
    assert mock.sqs_messages() == []
    assert mock.queue_url.endswith("/unit-queue")
    assert (mock.bucket, mock.table) == ("unit-bucket", "items")


def test_objects_read_from_the_backend_are_what_the_api_returns(
    mock: AwsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s3_objects reads moto's backend; the API's answer is the reference, whatever is asked."""
    s3 = mock.client("s3")
    for key, body in (("b", b"two"), ("a", b"one"), ("gone", b"x"), ("c/d", b"")):
        s3.put_object(Bucket="unit-bucket", Key=key, Body=body)
    s3.delete_object(Bucket="unit-bucket", Key="gone")
    questions: list[list[str] | None] = [None, ["a", "missing", "c/d"], []]
    assert aws_resources.stored_objects("unit-bucket", None) is not None  # read there
    from_backend = [mock.s3_objects(keys=keys) for keys in questions]
    monkeypatch.setattr(aws_fixture, "stored_objects", lambda bucket, keys: None)
    from_api = [mock.s3_objects(keys=keys) for keys in questions]
    assert from_backend == from_api
    assert list(from_backend[0]) == ["a", "b", "c/d"]  # in the API's order
    assert from_backend[0] == {"a": b"one", "b": b"two", "c/d": b""}


def test_a_versioned_bucket_is_read_through_the_api(mock: AwsMock) -> None:
    s3 = mock.client("s3")
    s3.put_bucket_versioning(Bucket="unit-bucket", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="unit-bucket", Key="k", Body=b"first")
    s3.put_object(Bucket="unit-bucket", Key="k", Body=b"second")
    s3.put_object(Bucket="unit-bucket", Key="deleted", Body=b"x")
    s3.delete_object(Bucket="unit-bucket", Key="deleted")
    assert aws_resources.stored_objects("unit-bucket", None) is None
    assert mock.s3_objects() == {"k": b"second"}


def test_state_reads_back_as_plain_values(mock: AwsMock) -> None:
    mock.client("s3").put_object(Bucket="unit-bucket", Key="k", Body=b"bytes")
    item = {"id": {"S": "a"}, "n": {"N": "2"}, "f": {"N": "2.5"}, "tags": {"SS": ["b", "a"]}}
    mock.client("dynamodb").put_item(TableName="items", Item=item)
    mock.client("sqs").send_message(QueueUrl=mock.queue_url, MessageBody="one")
    assert mock.s3_objects() == {"k": b"bytes"}
    assert mock.s3_keys() == ["k"]
    assert mock.dynamodb_items() == [{"id": "a", "n": 2, "f": 2.5, "tags": ["a", "b"]}]
    assert mock.sqs_messages() == ["one"]
    assert mock.sqs_messages() == [], "reading consumes the messages"
    assert mock.call_counts() == {
        "s3.PutObject": 1,
        "dynamodb.PutItem": 1,
        "sqs.SendMessage": 1,
    }


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ({"NULL": True}, None),
        ({"BOOL": False}, False),
        ({"N": "-7"}, -7),
        ({"L": [{"S": "x"}, {"M": {"k": {"N": "1e3"}}}]}, ["x", {"k": 1000.0}]),
        ({"NS": ["3", "1"]}, [1, 3]),
    ],
)
def test_plain_attribute(value: dict[str, Any], plain: object) -> None:
    assert plain_attribute(value) == plain


def test_throttling_is_injected_as_the_services_own_error(mock: AwsMock) -> None:
    dynamodb = mock.client("dynamodb")
    mock.faults.throttle("dynamodb", "GetItem", times=2)
    key = {"id": {"S": "a"}, "n": {"N": "1"}}
    for _ in range(2):
        with pytest.raises(dynamodb.exceptions.ProvisionedThroughputExceededException):
            dynamodb.get_item(TableName="items", Key=key)
    assert "Item" not in dynamodb.get_item(TableName="items", Key=key)
    assert mock.count("dynamodb", "GetItem") == 3
    mock.faults.throttle("s3", "HeadObject", times=None)
    for _ in range(3):
        with pytest.raises(ClientError) as raised:
            mock.client("s3").head_object(Bucket="unit-bucket", Key="k")
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    mock.faults.clear()
    with pytest.raises(ClientError, match="404"):
        mock.client("s3").head_object(Bucket="unit-bucket", Key="k")


def test_failures_and_actions_are_injected_per_operation(mock: AwsMock) -> None:
    s3 = mock.client("s3")
    mock.faults.fail("s3", "PutObject", code="AccessDenied", status=403)
    mock.faults.before(
        "s3",
        "ListObjectsV2",
        lambda: mock.inspector("s3").put_object(Bucket="unit-bucket", Key="raced", Body=b"x"),
    )
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.put_object(Bucket="unit-bucket", Key="k", Body=b"x")
    listed = s3.list_objects_v2(Bucket="unit-bucket")
    assert [entry["Key"] for entry in listed["Contents"]] == ["raced"]
    assert mock.inspector("s3") is not s3, "the check's own client is not the learner's"
    assert mock.count("s3") == 2


def test_queued_errors_apply_one_call_each(mock: AwsMock) -> None:
    mock.faults.fail("s3", "ListBuckets", code="InternalError", status=500, times=1)
    mock.faults.fail("s3", "ListBuckets", code="AccessDenied", status=403, times=1)
    codes = []
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            mock.client("s3").list_buckets()
        codes.append(raised.value.response["Error"]["Code"])
    assert codes == ["InternalError", "AccessDenied"]
    assert [b["Name"] for b in mock.client("s3").list_buckets()["Buckets"]] == ["unit-bucket"]


def test_http_get_fetches_presigned_urls_from_moto(mock: AwsMock) -> None:
    s3 = mock.client("s3")
    s3.put_object(Bucket="unit-bucket", Key="doc", Body=b"hello")
    url = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": "unit-bucket", "Key": "doc", "ResponseContentType": "text/plain"},
        ExpiresIn=60,
    )
    answer = mock.http_get(url)
    assert (answer.status, answer.body, answer.headers["content-type"]) == (
        200,
        b"hello",
        "text/plain",
    )
    with pytest.raises(AssertionError, match="not a URL"):
        mock.http_get("https://example.com/doc")


def test_each_check_gets_an_account_of_its_own(sandbox: AwsSandbox) -> None:
    """moto's mock stays on for the run: nothing of one check may reach the next."""
    first = AwsMock(sandbox)
    first.start()
    first.client("s3").put_object(Bucket="unit-bucket", Key="k", Body=b"x")
    first.client("s3").create_bucket(Bucket="extra-bucket")
    first.client("dynamodb").put_item(TableName="items", Item={"id": {"S": "a"}, "n": {"N": "1"}})
    first.client("sqs").send_message(QueueUrl=first.queue_url, MessageBody="left over")
    first.client("sqs").create_queue(QueueName="extra-queue")
    boto3.client("s3")  # boto3's default session, made during the check
    assert first.stop() == []
    with pytest.raises(RealAwsCallBlocked, match="outside a check"):
        sandbox.new_client("s3").list_buckets()
    sandbox.blocked.clear()
    second = AwsMock(sandbox)
    second.start()
    try:
        assert boto3.DEFAULT_SESSION is None
        s3 = second.inspector("s3")
        assert [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]] == ["unit-bucket"]
        assert second.s3_objects() == {}
        assert second.dynamodb_items() == []
        assert second.sqs_messages() == []
        assert second.inspector("sqs").list_queues()["QueueUrls"] == [second.queue_url]
    finally:
        assert second.stop() == []


def test_reset_and_stop_drop_all_state(sandbox: AwsSandbox) -> None:
    first = AwsMock(sandbox)
    first.start()
    first.client("s3").put_object(Bucket="unit-bucket", Key="k", Body=b"x")
    first.faults.fail("s3", "ListObjectsV2", code="AccessDenied", status=403)
    first.reset()
    assert first.s3_objects() == {}
    assert first.calls == []
    first.client("s3").list_objects_v2(Bucket="unit-bucket")  # the fault is gone too
    first.client("s3").put_object(Bucket="unit-bucket", Key="k", Body=b"x")
    assert first.stop() == []
    second = AwsMock(sandbox)
    second.start()
    try:
        assert second.s3_objects() == {}
    finally:
        second.stop()


def test_checks_share_a_client_that_records_into_the_running_check(sandbox: AwsSandbox) -> None:
    first = AwsMock(sandbox)
    first.start()
    s3 = first.client("s3")
    s3.list_buckets()
    _ = s3.exceptions.NoSuchKey  # botocore fills private caches: the client stays the same
    first.faults.fail("s3", "ListBuckets", code="AccessDenied", status=403)
    assert first.stop() == []
    second = AwsMock(sandbox)
    second.start()
    try:
        assert second.client("s3") is s3
        s3.list_buckets()  # the first check's fault ended with it
        assert (first.calls, second.calls) == (["s3.ListBuckets"], ["s3.ListBuckets"])
        second.faults.throttle("s3", "ListBuckets")
        with pytest.raises(ClientError, match="SlowDown"):
            s3.list_buckets()
    finally:
        assert second.stop() == []


@pytest.mark.parametrize("change", ["handler", "attribute"])
def test_a_client_that_code_changed_is_not_given_to_the_next_check(
    sandbox: AwsSandbox, change: str
) -> None:
    first = AwsMock(sandbox)
    first.start()
    sqs = first.client("sqs")
    if change == "handler":
        sqs.meta.events.register("before-send", lambda **_: None)
    else:
        sqs.send_message = lambda **_: None
    assert first.stop() == []
    second = AwsMock(sandbox)
    second.start()
    try:
        fresh = second.client("sqs")
        assert fresh is not sqs
        fresh.send_message(QueueUrl=second.queue_url, MessageBody="m")
        assert second.calls == ["sqs.SendMessage"]
    finally:
        assert second.stop() == []
