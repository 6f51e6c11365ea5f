"""Whole tutorial runs with the aws fixtures: declared resources, import-time clients, no AWS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import moto  # noqa: F401  (loaded once here, not imported and dropped by every inner run)
import pytest

from tests.conftest import RunTutorial
from tests.test_aws_fixture import install_network_guard

# --- whole runs ------------------------------------------------------------------------------

MINI_TUTORIAL = """---
title: "Mini AWS"
summary: "One check against S3"
difficulty: "beginner"
estimated_time: "5 min"
version: "1.0"
validation_method: "automated"
validation:
  solution:
    module: "mini"
    exports: []
{aws}---

### Phase 1: Foundation (5 minutes)

#### Step 1: Create Base Structure

### Validation Checklist
- [ ] All core functionality works correctly <!-- id: core -->
"""
MINI_CHECK = """
import pytest


@pytest.mark.checklist("core", step=1)
def test_objects_round_trip(aws, s3_client, dynamodb_client, sqs_client):
    s3_client.put_object(Bucket="mini-bucket", Key="k", Body=b"v")
    sqs_client.send_message(QueueUrl=aws.queue_url, MessageBody="m")
    assert dynamodb_client.list_tables()["TableNames"] == ["mini-table"]
    assert aws.s3_objects() == {"k": b"v"}
    assert aws.sqs_messages() == ["m"]
    assert aws.call_counts() == {
        "s3.PutObject": 1, "sqs.SendMessage": 1, "dynamodb.ListTables": 1
    }
"""
MINI_AWS = """  aws:
    s3_buckets: ["mini-bucket"]
    dynamodb_tables: [{name: "mini-table", key_schema: {partition: {name: "id", type: "S"}}}]
    sqs_queues: ["mini-queue"]
"""


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "undeclared"])
def test_the_fixtures_serve_the_declared_resources_only(
    run_tutorial: RunTutorial, pytester: pytest.Pytester, declared: bool
) -> None:
    folder = pytester.mkdir("mine") / "mini"
    folder.mkdir()
    text = MINI_TUTORIAL.format(aws=MINI_AWS if declared else "")
    (folder / "tutorial.md").write_text(text, encoding="utf-8")
    (folder / "check_mini.py").write_text(MINI_CHECK, encoding="utf-8")
    pytester.mkdir("solution").joinpath("mini.py").write_text('"""Empty."""\n', "utf-8")
    pytester.makeini("[pytest]\ntutorial_paths = mine\n")
    run = run_tutorial("mini", solution="solution")
    check = run.items["core"]["checks"][0]
    if declared:
        assert check["status"] == "passed", check["message"]
    else:
        assert check["status"] == "error"
        assert "declares no validation.aws block" in check["message"]


PROBE = """
import sys


def pytest_unconfigure(config):
    loaded = sorted(m for m in ("boto3", "botocore", "moto") if m in sys.modules)
    print(f"AWS MODULES LOADED: {loaded}")
    loaded = sorted(m for m in ("fakeredis", "redis") if m in sys.modules)
    print(f"REDIS MODULES LOADED: {loaded}")
"""


@pytest.mark.slow
def test_a_run_imports_the_fakes_of_the_services_its_checks_use_only(
    pytester: pytest.Pytester, copy_solution: Callable[..., Path]
) -> None:
    """moto and boto3 for an AWS tutorial, fakeredis and redis-py (and NumPy with them, where
    it is installed) for a Redis one: each is 0.1 to 0.2 s of a run's start-up."""
    pytester.makepyfile(aws_probe=PROBE)
    copy_solution("reference_solutions", "caching")
    copy_solution("reference_solutions", "object_store")
    redis_modules = "['fakeredis', 'redis']"
    for name, check, aws, redis in (
        ("caching", "test_set_then_get", "[]", redis_modules),
        ("object_store", "test_presign_of_a_missing", "['boto3', 'botocore', 'moto']", "[]"),
    ):
        result = pytester.runpytest_subprocess(
            "-p",
            "aws_probe",
            f"--tutorial={name}",
            "--tutorial-solution=reference",
            "-k",
            check,
            "-s",
        )
        result.stdout.fnmatch_lines(
            ["*1 passed*", f"AWS MODULES LOADED: {aws}", f"REDIS MODULES LOADED: {redis}"]
        )


def _reference_with(copy_solution: Callable[..., Path], name: str, edits: dict[str, str]) -> Path:
    folder = copy_solution("reference_solutions", "object_store", to=name)
    module = folder / "document_store.py"
    text = module.read_text(encoding="utf-8")
    for old, new in edits.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    module.write_text(text, encoding="utf-8")
    return folder


MODULE_LEVEL_CLIENTS = {
    'T = TypeVar("T")\n': 'T = TypeVar("T")\nimport boto3\n'
    '_CLIENTS = {name: boto3.client(name) for name in ("s3", "dynamodb", "sqs")}\n',
    "        self._s3 = s3\n        self._dynamodb = dynamodb\n        self._sqs = sqs\n": (
        "        self._s3, self._dynamodb, self._sqs = "
        '(_CLIENTS[n] for n in ("s3", "dynamodb", "sqs"))\n'
    ),
}
"""The reference, but with clients made at import time instead of the injected ones."""


@pytest.mark.slow
def test_clients_made_at_import_time_are_answered_by_moto(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    folder = _reference_with(copy_solution, "import_time_clients", MODULE_LEVEL_CLIENTS)
    run = run_tutorial(
        "object_store", "-k", "put_then_get or stored_under_their or one_event", solution=folder
    )
    statuses = {
        c["id"].rsplit("::", 1)[-1]: c["status"]
        for i in run.report["checklist"]
        for c in i["checks"]
    }
    assert statuses["test_put_then_get_returns_the_metadata"] == "passed", statuses
    assert statuses["test_bodies_are_stored_under_their_sha256"] == "passed", statuses
    assert statuses["test_one_event_per_new_document"] == "passed", statuses


@pytest.mark.slow
def test_an_aws_call_at_import_time_fails_with_a_clear_message(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    edits = {
        'T = TypeVar("T")\n': 'T = TypeVar("T")\nimport boto3\nboto3.client("s3").list_buckets()\n'
    }
    folder = _reference_with(copy_solution, "calls_aws_at_import", edits)
    run = run_tutorial("object_store", "-k", "put_then_get", solution=folder)
    check = run.items["core"]["checks"][0]
    assert check["status"] == "error"
    assert "tried to reach real AWS (GET https://s3.amazonaws.com/)" in check["message"]
    assert "document_store.py:" in check["message"]
    assert "could not import the solution" in check["message"]


EARLY_CLIENT = '''
"""Loaded with -p before the tutorial starts: a client made before moto was imported."""
import boto3

CLIENT = boto3.client(
    "s3",
    region_name="us-east-1",
    aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
    aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
)
'''


@pytest.mark.slow
def test_a_client_made_before_moto_was_loaded_never_reaches_aws(
    pytester: pytest.Pytester, copy_solution: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = install_network_guard(pytester.path / "guard", monkeypatch)
    pytester.makepyfile(early_client=EARLY_CLIENT)
    uses_it = {
        'T = TypeVar("T")\n': 'T = TypeVar("T")\nimport early_client\n',
        "        self._s3 = s3\n": "        self._s3 = early_client.CLIENT\n",
    }
    folder = _reference_with(copy_solution, "uses_early_client", uses_it)
    result = pytester.runpytest_subprocess(
        "-p",
        "early_client",
        "--tutorial=object_store",
        f"--tutorial-solution={folder}",
        "-k",
        "stored_under_their",
    )
    result.stdout.fnmatch_lines(["*1 passed*"])
    calls_it = {
        'T = TypeVar("T")\n': 'T = TypeVar("T")\nimport early_client\n'
        "early_client.CLIENT.list_buckets()\n"
    }
    folder = _reference_with(copy_solution, "calls_early_client", calls_it)
    result = pytester.runpytest_subprocess(
        "-p",
        "early_client",
        "--tutorial=object_store",
        f"--tutorial-solution={folder}",
        "-k",
        "stored_under_their",
    )
    result.stdout.fnmatch_lines(["*tried to reach real AWS*", "*1 error*"])
    assert log.read_text(encoding="utf-8") == "", "a process of the run touched the network"
