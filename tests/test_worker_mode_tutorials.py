"""Every bundled tutorial in worker mode: each reference validated, each starter at zero.

The same check code runs in both modes; the learner's code runs in a worker here. The
learner's own tests run in child processes whatever the mode: the reference's whole run
here is also the case of ``tests/test_learner_tests_item.py`` where the reference's tests
earn the ``tests`` item.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_tutorial.options import ISOLATION
from tests.conftest import RunTutorial
from tests.test_learner_tests_item import CATCH, PASS

pytestmark = pytest.mark.slow

TUTORIALS = ("caching", "batch_processor", "object_store", "rate_limiter")
WORKER = f"{ISOLATION}=worker"


@pytest.mark.parametrize("name", TUTORIALS)
def test_reference_is_validated_in_worker_mode(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], name: str
) -> None:
    copy_solution("reference_solutions", name)
    run = run_tutorial(name, WORKER, solution="reference")
    assert run.report["verdict"] == "validated", run.result.stdout.str()
    assert set(run.automated_statuses().values()) == {"passed"}
    assert run.report["score"]["points"] == run.report["score"]["max_points"] > 0
    assert run.result.ret == 0
    own_tests = {c["id"].rsplit("::", 1)[-1]: c for c in run.items["tests"]["checks"]}
    statuses = {name: check["status"] for name, check in own_tests.items()}
    assert statuses == {PASS: "passed", CATCH: "passed"}, own_tests


@pytest.mark.parametrize("name", TUTORIALS)
def test_starter_scores_zero_in_worker_mode(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], name: str
) -> None:
    copy_solution("exercises", name)
    run = run_tutorial(name, WORKER)
    assert run.report["verdict"] == "not_validated"
    checks = [check for item in run.report["checklist"] for check in item["checks"]]
    assert [check["id"] for check in checks if check["status"] == "passed"] == []
    assert run.report["score"]["points"] == 0
