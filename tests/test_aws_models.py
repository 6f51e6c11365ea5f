"""botocore's parsed data files, shared by every session of a process."""

from __future__ import annotations

import boto3
import botocore.session
from moto.core.loaders import create_loader as create_moto_loader

from pytest_tutorial.aws_models import share_parsed_models
from pytest_tutorial.warm import warm_imports


def _service_model(session: botocore.session.Session, service: str) -> object:
    return session.get_component("data_loader").load_service_model(service, "service-2")


def test_two_sessions_get_the_same_parsed_model() -> None:
    share_parsed_models()
    first = _service_model(botocore.session.Session(), "sqs")
    second = _service_model(botocore.session.Session(), "sqs")
    assert first is second


def test_a_boto3_session_reads_the_models_its_clients_use_once() -> None:
    share_parsed_models()
    sessions = [boto3.session.Session(region_name="us-east-1") for _ in range(2)]
    models = [s.client("dynamodb").meta.service_model._service_description for s in sessions]
    assert models[0] is models[1]


def test_loaders_that_read_other_files_keep_their_own_models() -> None:
    """moto's loader merges its own extras into the models: a model of its own."""
    share_parsed_models()
    plain = _service_model(botocore.session.Session(), "s3")
    with_moto_extras = create_moto_loader().load_service_model("s3", "service-2")
    assert with_moto_extras is not plain
    assert with_moto_extras is create_moto_loader().load_service_model("s3", "service-2")
    other_paths = botocore.session.Session()
    loader = other_paths.get_component("data_loader")
    loader.search_paths.insert(0, "/nonexistent-models")
    assert _service_model(other_paths, "s3") is not plain


def test_the_warm_server_of_aws_runs_shares_them() -> None:
    """Its warm-up parses the models once; every run forked from it finds them."""
    assert "pytest_tutorial.aws_models" in warm_imports(aws=True)
    assert "pytest_tutorial.aws_models" not in warm_imports(aws=False)
