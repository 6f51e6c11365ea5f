"""End to end: the object_store tutorial against the reference and the starter, offline."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import boto3  # noqa: F401  (loaded once here, not imported and dropped by every inner run)
import moto  # noqa: F401
import pytest

from tests.conftest import RunTutorial, validate_report
from tests.test_aws_fixture import install_network_guard

pytestmark = pytest.mark.slow

AUTOMATED_ITEMS = {"core", "errors", "performance", "documentation", "tests", "integration"}


@pytest.mark.wheel
def test_reference_is_validated(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("reference_solutions", "object_store")
    run = run_tutorial("object_store", solution="reference")
    assert run.result.ret == 0, run.result.stdout.str()
    assert run.report["verdict"] == "validated"
    statuses = run.automated_statuses()
    assert set(statuses) == AUTOMATED_ITEMS
    assert set(statuses.values()) == {"passed"}
    assert run.report["score"]["points"] == run.report["score"]["max_points"] > 0
    assert [entry["name"] for entry in run.report["performance"]] == ["metadata reads"]
    run.result.stdout.fnmatch_lines(["*tutorial object_store:*", "verdict: VALIDATED*"])


@pytest.mark.wheel
def test_starter_fails_every_check_and_scores_zero(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("exercises", "object_store")
    run = run_tutorial("object_store")  # the default solution: exercises/object_store
    assert run.result.ret == 1
    assert run.report["verdict"] == "not_validated"
    statuses = run.automated_statuses()
    assert set(statuses) == AUTOMATED_ITEMS
    assert set(statuses.values()) == {"failed"}, statuses
    checks = [check for item in run.report["checklist"] for check in item["checks"]]
    assert len(checks) >= 25
    assert [c["id"] for c in checks if c["status"] == "passed"] == []
    assert run.report["score"]["points"] == 0
    documentation = run.items["documentation"]["checks"][0]["message"]
    assert "still the starter's TODO note" in documentation
    run.result.stdout.fnmatch_lines(["*FAIL*core*", "*hint:*", "verdict: NOT VALIDATED*"])


LEARNERS_AWS_CONFIG = """[profile prod]
region = eu-west-3
endpoint_url = https://aws-proxy.corp.example.com
credential_process = sh -c 'touch {marker}; echo {{"Version": 1}}'
"""


def test_real_looking_credentials_and_a_dead_proxy_never_reach_the_network(
    pytester: pytest.Pytester, copy_solution: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole run, learner-test children included, with every socket guarded."""
    copy_solution("reference_solutions", "object_store")
    log = install_network_guard(pytester.path / "guard", monkeypatch)
    probe = subprocess.run(
        [sys.executable, "-c", "import socket; socket.getaddrinfo('s3.amazonaws.com', 443)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode != 0, "the network guard is not active in child processes"
    assert "dns 's3.amazonaws.com'" in log.read_text(encoding="utf-8")
    log.write_text("", encoding="utf-8")
    marker = pytester.path / "credential_process_ran"
    config = pytester.path / "aws_config"
    config.write_text(LEARNERS_AWS_CONFIG.format(marker=marker), encoding="utf-8")
    learner_environment = {
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEXAMPLE",
        "AWS_PROFILE": "prod",
        "AWS_CONFIG_FILE": str(config),
        "AWS_ENDPOINT_URL": "https://aws-proxy.corp.example.com",
        "AWS_DEFAULT_REGION": "ap-south-1",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
    }
    for name, value in learner_environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NO_PROXY", raising=False)
    report = pytester.path / "offline.json"
    result = pytester.runpytest_subprocess(
        "--tutorial=object_store", "--tutorial-solution=reference", f"--tutorial-report={report}"
    )
    assert result.ret == 0, result.stdout.str()
    verdict = json.loads(report.read_text(encoding="utf-8"))
    validate_report(verdict)
    assert verdict["verdict"] == "validated"
    assert log.read_text(encoding="utf-8") == "", "a process of the run tried the network"
    assert not marker.exists(), "the learner's AWS config was read"
