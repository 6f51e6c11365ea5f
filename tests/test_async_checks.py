"""Async checks and fixtures run under pytest-asyncio whatever the learner's asyncio settings.

A small tutorial of its own (through the ``tutorial_paths`` ini key) holds coroutine checks
with no marker, with a marker but no loop scope, with hypothesis, and async fixtures of
both kinds; it runs under strict mode, auto mode and session-scoped default loops. Other
checks never finish, and must be reported as timeouts while the rest of the run stands.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pytest_tutorial import async_checks
from pytest_tutorial.options import REPORT, SOLUTION, TIMEOUT, TUTORIAL
from tests.conftest import validate_report

pytestmark = pytest.mark.slow

GRACE_S = 60.0
"""The hard stop's grace period in the cancellation test: far past the 1 s limit."""

DOCUMENT = """---
title: "Async checks"
summary: "Checks that are coroutines"
difficulty: "intermediate"
estimated_time: "5 min"
version: "1.0"
validation_method: "automated"
validation:
  solution:
    module: "answer"
    exports: ["answer", "forever", "stubborn"]
  timeout_s: 30
---

# Async checks

### Phase 1: Everything (5 minutes)

#### Step 1: Answer

### Validation Checklist
- [ ] The answers are right <!-- id: core -->
- [ ] Hangs are stopped <!-- id: hangs -->
"""

SOLUTION_MODULE = '''"""Answers, and two coroutines that never finish."""

import asyncio


async def answer() -> int:
    await asyncio.sleep(0)
    return 42


async def forever() -> None:
    await asyncio.Event().wait()


async def stubborn() -> None:
    while True:
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            pass  # swallows every cancellation
'''

CONFTEST = """
import asyncio

import pytest
import pytest_asyncio


@pytest.fixture
async def plain_async_fixture():
    await asyncio.sleep(0)
    return asyncio.get_running_loop()


@pytest_asyncio.fixture
async def asyncio_fixture_without_scope():
    yield asyncio.get_running_loop()
    await asyncio.sleep(0)
"""

CHECKS = """
import asyncio
import time

import pytest
from hypothesis import given, strategies as st

LOOPS = []


@pytest.mark.checklist("core")
async def test_unmarked_coroutine(solution):
    LOOPS.append(id(asyncio.get_running_loop()))
    assert await solution.answer() == 42


@pytest.mark.asyncio
@pytest.mark.checklist("core")
async def test_marked_without_a_loop_scope(solution):
    LOOPS.append(id(asyncio.get_running_loop()))
    assert await solution.answer() == 42


@pytest.mark.checklist("core")
async def test_async_fixtures_share_the_checks_loop(
    plain_async_fixture, asyncio_fixture_without_scope
):
    loop = asyncio.get_running_loop()
    LOOPS.append(id(loop))
    assert plain_async_fixture is loop
    assert asyncio_fixture_without_scope is loop


@pytest.mark.checklist("core")
@given(st.integers())
async def test_hypothesis_coroutine(solution, number):
    assert await solution.answer() + number - number == 42


@pytest.mark.checklist("core")
def test_every_coroutine_check_had_a_loop_of_its_own():
    assert len(LOOPS) == 3
    assert len(set(LOOPS)) == 3, "coroutine checks shared an event loop"


@pytest.mark.checklist("hangs")
async def test_hang_awaits_forever(solution):
    await solution.forever()


@pytest.mark.checklist("hangs")
async def test_hang_swallows_cancellation(solution):
    await solution.stubborn()


@pytest.mark.checklist("hangs")
async def test_hang_blocks_the_loop():
    while True:
        time.sleep(0.01)


@pytest.mark.checklist("hangs")
@given(st.integers())
async def test_hang_in_hypothesis(solution, number):
    await solution.forever()


@pytest.mark.checklist("hangs")
async def test_after_the_hangs(solution):
    assert await solution.answer() == 42
"""

LEARNER_INIS = {
    "no-ini": None,
    "strict-session-loops": (
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = session\n"
        "asyncio_default_test_loop_scope = session\n"
    ),
    "auto-session-loops": (
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = session\n"
        "asyncio_default_test_loop_scope = session\n"
    ),
    "auto-module-loops": (
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = module\n"
        "asyncio_default_test_loop_scope = module\n"
    ),
}


def _write_tutorial(pytester: pytest.Pytester, ini: str | None) -> None:
    folder = pytester.path / "mine" / "async_demo"
    folder.mkdir(parents=True)
    (folder / "tutorial.md").write_text(DOCUMENT, encoding="utf-8")
    (folder / "conftest.py").write_text(textwrap.dedent(CONFTEST), encoding="utf-8")
    (folder / "check_async.py").write_text(textwrap.dedent(CHECKS), encoding="utf-8")
    solution = pytester.path / "solution"
    solution.mkdir()
    (solution / "answer.py").write_text(SOLUTION_MODULE, encoding="utf-8")
    pytester.makeini((ini or "[pytest]\n") + "tutorial_paths = mine\n")


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, str]]:
    report_path = pytester.path / "report.json"
    result = pytester.runpytest(
        f"{TUTORIAL}=async_demo",
        f"{SOLUTION}=solution",
        f"{REPORT}={report_path}",
        "-p",
        "no:randomly",
        *args,
    )
    report = json.loads(report_path.read_text(encoding="utf-8"))
    validate_report(report)
    statuses = {
        check["id"].rsplit("::", 1)[-1]: check["status"]
        for item in report["checklist"]
        for check in item["checks"]
    }
    return result, statuses


@pytest.mark.parametrize("ini", list(LEARNER_INIS.values()), ids=list(LEARNER_INIS))
def test_coroutine_checks_and_fixtures_run_in_a_loop_of_their_own(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ini: str | None
) -> None:
    _write_tutorial(pytester, ini)
    monkeypatch.delenv("PYTEST_ADDOPTS")  # the learner's ini alone decides the loop scopes
    result, statuses = _run(pytester, "-k", "not hang")
    core = {name: status for name, status in statuses.items() if status != "skipped"}
    assert core == dict.fromkeys(
        [
            "test_unmarked_coroutine",
            "test_marked_without_a_loop_scope",
            "test_async_fixtures_share_the_checks_loop",
            "test_hypothesis_coroutine",
            "test_every_coroutine_check_had_a_loop_of_its_own",
        ],
        "passed",
    ), result.stdout.str()
    output = result.stdout.str() + result.stderr.str()
    assert "Deprecation" not in output, output
    assert "PytestWarning" not in output, output


@pytest.mark.parametrize(
    "ini", [LEARNER_INIS["no-ini"], LEARNER_INIS["auto-session-loops"]], ids=["no-ini", "auto"]
)
def test_a_coroutine_that_never_finishes_is_a_timeout_and_the_run_goes_on(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ini: str | None
) -> None:
    _write_tutorial(pytester, ini)
    monkeypatch.delenv("PYTEST_ADDOPTS")
    result, statuses = _run(pytester, f"{TIMEOUT}=1", "-k", "hang")
    assert statuses == {
        **dict.fromkeys(
            [
                "test_unmarked_coroutine",
                "test_marked_without_a_loop_scope",
                "test_async_fixtures_share_the_checks_loop",
                "test_hypothesis_coroutine",
                "test_every_coroutine_check_had_a_loop_of_its_own",
            ],
            "skipped",
        ),
        "test_hang_awaits_forever": "timeout",
        "test_hang_swallows_cancellation": "timeout",
        "test_hang_blocks_the_loop": "timeout",
        "test_hang_in_hypothesis": "timeout",
        "test_after_the_hangs": "passed",
    }, result.stdout.str()
    result.stdout.fnmatch_lines(["*did not finish within its 1 s time limit*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_a_cancelled_check_ends_at_its_time_limit(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A coroutine that honours cancellation stops at the limit, not at the hard stop.

    The grace period before the hard stop is stretched to a minute here: a check that
    ended through it would take over a minute; one cancelled in its loop ends near its
    1 s limit, whatever the machine's load.
    """
    monkeypatch.setattr(async_checks, "CANCEL_GRACE_S", GRACE_S)
    _write_tutorial(pytester, None)
    report_path = pytester.path / "report.json"
    pytester.runpytest(
        f"{TUTORIAL}=async_demo",
        f"{SOLUTION}=solution",
        f"{REPORT}={report_path}",
        f"{TIMEOUT}=1",
        "-k",
        "test_hang_awaits_forever",
    )
    report = json.loads(Path(report_path).read_text(encoding="utf-8"))
    [check] = [
        c for item in report["checklist"] for c in item["checks"] if c["status"] != "skipped"
    ]
    assert check["status"] == "timeout"
    assert "did not finish within its 1 s time limit" in check["message"]
    assert 1.0 <= check["duration_s"] < 1.0 + GRACE_S, check
