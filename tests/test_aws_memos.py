"""What botocore and moto work out for a client or request, worked out once a process."""

from __future__ import annotations

import copy
import importlib
import sys
from collections.abc import Callable
from typing import Any, cast

import boto3
import pytest
from botocore import client as botocore_client
from botocore import regions
from botocore.endpoint_provider import EndpointProvider
from botocore.hooks import EventAliaser
from botocore.model import ServiceModel
from botocore.utils import EVENT_ALIASES
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from pytest_tutorial import aws_memos
from pytest_tutorial.aws_memos import SharedInstance, remember_per_process
from pytest_tutorial.warm import warm_imports

REGION = "us-east-1"
CUSTOM_S3 = "https://s3.storage.example"


def _client(service: str) -> Any:
    """A client of a session of its own."""
    return boto3.session.Session(region_name=REGION).client(
        service, aws_access_key_id="memo", aws_secret_access_key="memo"
    )


def test_clients_of_two_sessions_share_their_event_renamings() -> None:
    remember_per_process()
    first, second = _client("sqs"), _client("dynamodb")
    assert first.meta.events._alias_name_cache is second.meta.events._alias_name_cache


@settings(max_examples=60, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from([*EVENT_ALIASES, "before-call", "needs-retry", "s3", "GetObject"]),
        min_size=1,
        max_size=4,
    )
)
def test_a_shared_renaming_is_the_one_botocore_works_out(parts: list[str]) -> None:
    remember_per_process()
    name = ".".join(parts)
    shared = EventAliaser(None)
    alone = EventAliaser(None)
    alone._alias_name_cache = {}  # works it out again, as a client of its own would
    assert shared._alias_event_name(name) == alone._alias_event_name(name)


def test_an_aliaser_with_another_table_keeps_its_renamings_apart() -> None:
    remember_per_process()
    default = EventAliaser(None)
    other = EventAliaser(None, {"books": "library"})
    assert other._alias_event_name("before-call.books.Lend") == "before-call.library.Lend"
    assert default._alias_event_name("before-call.books.Lend") == "before-call.books.Lend"
    assert other._alias_name_cache is not default._alias_name_cache


@pytest.mark.parametrize(
    ("part", "kind"),
    [
        (lambda client: client._ruleset_resolver._provider, EndpointProvider),
        (lambda client: client.meta.service_model, ServiceModel),
    ],
    ids=["endpoint provider", "service model"],
)
def test_clients_of_one_service_share_what_is_built_from_its_data(
    part: Callable[[Any], Any], kind: type
) -> None:
    remember_per_process()
    first, second, other = _client("s3"), _client("s3"), _client("sqs")
    shared = part(first)
    assert type(shared) is kind
    assert part(second) is shared
    assert part(other) is not shared


@settings(max_examples=40, deadline=None)
@given(
    region=st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2", "cn-north-1"]),
    bucket=st.from_regex(r"[a-z0-9][a-z0-9.-]{2,20}[a-z0-9]", fullmatch=True),
    accelerate=st.booleans(),
    path_style=st.booleans(),
)
def test_a_shared_provider_resolves_as_a_new_one_does(
    region: str, bucket: str, accelerate: bool, path_style: bool
) -> None:
    remember_per_process()
    shared = _client("s3")._ruleset_resolver._provider
    built = _built_from(shared)
    ruleset, partitions = built.data
    alone = EndpointProvider(  # not a shared one: the class itself
        ruleset_data=ruleset, partition_data=partitions, **built.others
    )
    assert alone is not shared
    params = {
        "Region": region,
        "Bucket": bucket,
        "Accelerate": accelerate,
        "ForcePathStyle": path_style,
        "UseFIPS": False,
        "UseDualStack": False,
    }
    assert _outcome(shared, params) == _outcome(alone, params)


def _built_from(provider: EndpointProvider) -> SharedInstance:
    """What a shared provider was built from."""
    for known in getattr(regions.EndpointProvider, aws_memos._MARK).values():
        if known.instance is provider:
            return cast(SharedInstance, known)
    raise AssertionError("the provider is not a shared one")


def _outcome(provider: EndpointProvider, params: dict[str, Any]) -> Any:
    try:
        endpoint = provider.resolve_endpoint(**params)
    except Exception as error:  # a bucket name the rules refuse: refused by both
        return type(error).__name__, str(error)
    return endpoint.url, endpoint.properties, endpoint.headers


def test_moto_reloads_its_s3_urls_only_when_their_setting_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    remember_per_process()
    reloads: list[str] = []
    reload = importlib.reload

    def counted(module: Any) -> Any:
        reloads.append(module.__name__)
        return reload(module)

    monkeypatch.setattr(importlib, "reload", counted)
    with mock_aws():
        s3 = _client("s3")
        s3.create_bucket(Bucket="memos")
        for number in range(5):
            s3.put_object(Bucket="memos", Key=f"k{number}", Body=b"x")
        assert len(s3.list_objects_v2(Bucket="memos")["Contents"]) == 5
        assert reloads == []
        monkeypatch.setenv(aws_memos.S3_ENDPOINTS_VARIABLE, CUSTOM_S3)
        custom = boto3.session.Session(region_name=REGION).client(
            "s3", endpoint_url=CUSTOM_S3, aws_access_key_id="m", aws_secret_access_key="m"
        )
        custom.create_bucket(Bucket="custom")  # served by moto at the custom endpoint
        assert custom.list_buckets()["Buckets"]
        assert reloads == ["moto.s3.urls"]
        monkeypatch.delenv(aws_memos.S3_ENDPOINTS_VARIABLE)
        s3.list_buckets()
        s3.list_buckets()
        assert reloads == ["moto.s3.urls", "moto.s3.urls"]


def test_importing_the_module_again_patches_nothing_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pytester puts the module table back after an in-process run: the classes keep the
    first import's patches and what they share."""
    remember_per_process()
    aliaser_init = EventAliaser.__init__
    patched = (regions.EndpointProvider, botocore_client.ServiceModel)
    renamings = _client("sqs").meta.events._alias_name_cache
    provider = _client("s3")._ruleset_resolver._provider
    monkeypatch.delitem(sys.modules, "pytest_tutorial.aws_memos")
    importlib.import_module("pytest_tutorial.aws_memos")
    assert EventAliaser.__init__ is aliaser_init
    assert (regions.EndpointProvider, botocore_client.ServiceModel) == patched
    assert _client("sqs").meta.events._alias_name_cache is renamings
    assert _client("s3")._ruleset_resolver._provider is provider


def test_the_warm_server_of_aws_runs_remembers_them() -> None:
    imports = warm_imports(aws=True)
    assert "pytest_tutorial.aws_memos" in imports
    assert imports.index("pytest_tutorial.aws_memos") > imports.index("moto.s3.urls")
    assert "pytest_tutorial.aws_memos" not in warm_imports(aws=False)


def test_a_provider_is_shared_by_the_identity_of_its_data() -> None:
    remember_per_process()
    shared = _client("s3")._ruleset_resolver._provider
    ruleset, partitions = _built_from(shared).data
    same = regions.EndpointProvider(ruleset, partitions, **_built_from(shared).others)
    assert same is shared  # positional or by keyword, the same arguments
    other = copy.deepcopy(ruleset)  # equal, but another object: parsed again, say
    own = regions.EndpointProvider(ruleset_data=other, partition_data=partitions)
    assert isinstance(own, EndpointProvider)
    assert own is not shared


def test_a_shared_model_describes_as_a_new_one_does() -> None:
    remember_per_process()
    model = _client("dynamodb").meta.service_model
    alone = ServiceModel(model._service_description, service_name="dynamodb")
    assert alone is not model
    for name in ("PutItem", "Query", "TransactWriteItems"):
        shared_operation, own = model.operation_model(name), alone.operation_model(name)
        assert shared_operation.input_shape.members.keys() == own.input_shape.members.keys()
        assert shared_operation.idempotent_members == own.idempotent_members
    assert [s.name for s in model.error_shapes] == [s.name for s in alone.error_shapes]
