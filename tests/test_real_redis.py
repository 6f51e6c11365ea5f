"""The caching tutorial against a real redis-server on loopback (``--tutorial-redis=server``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_tutorial.options import REDIS, TUTORIAL
from tests.conftest import RunTutorial
from tests.test_caching_variants import VARIANTS, make_variant

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _needs_redis_server() -> None:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install redis-server (.ci/run does, with apt-get)")
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")


def _servers_running() -> int:
    found = subprocess.run(["pgrep", "-c", "-x", "redis-server"], capture_output=True, text=True)
    return int(found.stdout.strip() or 0)


def test_the_reference_is_validated_against_a_real_server(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("reference_solutions", "caching")
    before = _servers_running()
    run = run_tutorial("caching", f"{REDIS}=server", "-k", "not own_tests", solution="reference")
    statuses = run.automated_statuses()
    assert statuses.pop("tests") == "skipped"
    assert set(statuses.values()) == {"passed"}, statuses
    assert _servers_running() == before, "the run left a redis-server behind"


def test_a_forgotten_ttl_is_caught_by_a_real_server(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    variant = next(v for v in VARIANTS if v.name == "forgets_the_ttl")
    run = run_tutorial(
        "caching",
        f"{REDIS}=server",
        "-k",
        "integration",
        solution=make_variant(copy_solution, variant),
    )
    assert run.status("integration") == "failed"


def test_a_bad_redis_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "exercises" / "caching").mkdir(parents=True)
    result = pytester.runpytest(f"{TUTORIAL}=caching", f"{REDIS}=cluster")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--tutorial-redis=cluster is not valid" in result.stderr.str()
    assert "fake | server" in result.stderr.str()
