"""botocore's parsed data files, shared by every session of a process."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.loaders import Loader
from moto.core.loaders import create_loader as create_moto_loader

from pytest_tutorial.aws_models import share_parsed_models
from pytest_tutorial.warm import WarmServer, warm_imports

REPO = Path(__file__).resolve().parent.parent
PARSED_BEFORE_THE_RUN = """
from pytest_tutorial import aws_models


def test_the_three_models_were_parsed_before_this_run():
    parsed = {key[1] for _, key in aws_models._shared if key[0] == "load_service_model"}
    assert {"s3", "dynamodb", "sqs"} <= parsed, parsed
"""


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
    assert "pytest_tutorial.aws_models" in warm_imports(aws=True)
    assert "pytest_tutorial.aws_models" not in warm_imports(aws=False)


@pytest.mark.slow
def test_a_run_forked_from_the_warm_server_finds_the_models_parsed(tmp_path: Path) -> None:
    """The server's warm-up parsed them once; a learner's new session reads that copy."""
    test_file = tmp_path / "test_parsed.py"
    test_file.write_text(PARSED_BEFORE_THE_RUN, encoding="utf-8")
    server = WarmServer.start(warm_imports(aws=True), cwd=REPO)
    assert server is not None
    output = tmp_path / "out"
    try:
        result = server.pytest(
            [str(test_file), "-q", "-p", "no:randomly", "-p", "no:cacheprovider"],
            output=output,
            timeout_s=60,
            cwd=tmp_path,
        )
    finally:
        server.close()
    assert result.exit_code == 0, output.read_text(encoding="utf-8")


def test_importing_the_module_again_keeps_one_wrapper_and_one_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second import (pytester puts the module table back after an in-process run) must
    not wrap the loader again: that would keep the first module's parsed models alive."""
    share_parsed_models()
    wrapped = Loader.__init__
    first = _service_model(botocore.session.Session(), "sqs")
    monkeypatch.delitem(sys.modules, "pytest_tutorial.aws_models")
    importlib.import_module("pytest_tutorial.aws_models")
    assert Loader.__init__ is wrapped
    assert _service_model(botocore.session.Session(), "sqs") is first
