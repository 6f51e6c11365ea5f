"""End to end: the batch_processor tutorial against the reference, the starter and weak tests.

Each run happens twice: with no ini file, and with a learner's ini that sets
``asyncio_mode = auto`` (and session-scoped default loops), which must change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RunTutorial

pytestmark = pytest.mark.slow

NAME = "batch_processor"
ITEMS = {"core", "errors", "performance", "documentation", "tests", "integration"}
LEARNER_INIS = {
    "no-ini": None,
    "auto-mode": "[pytest]\nasyncio_mode = auto\n",
    "auto-session-loops": (
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = session\n"
        "asyncio_default_test_loop_scope = session\n"
    ),
}
inis = pytest.mark.parametrize(
    "ini",
    [
        # With no ini file, the run CI repeats against the installed wheel.
        pytest.param(ini, id=name, marks=[pytest.mark.wheel] if ini is None else [])
        for name, ini in LEARNER_INIS.items()
    ],
)


@inis
def test_reference_is_validated(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    pytester: pytest.Pytester,
    ini: str | None,
) -> None:
    if ini is not None:
        pytester.makeini(ini)
    copy_solution("reference_solutions", NAME)
    run = run_tutorial(NAME, solution="reference")
    assert run.result.ret == 0, run.result.stdout.str()
    assert run.report["verdict"] == "validated"
    statuses = run.automated_statuses()
    assert set(statuses) == ITEMS
    assert set(statuses.values()) == {"passed"}, statuses
    assert run.report["score"]["points"] == run.report["score"]["max_points"] > 0
    [load] = run.report["performance"]
    assert load["p95_ms"] is not None
    run.result.stdout.fnmatch_lines([f"*tutorial {NAME}:*", "*PASS*core*", "verdict: VALIDATED*"])


@inis
def test_starter_fails_every_automated_item_and_scores_zero(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    pytester: pytest.Pytester,
    ini: str | None,
) -> None:
    if ini is not None:
        pytester.makeini(ini)
    copy_solution("exercises", NAME)
    copy_solution("reference_solutions", NAME)
    run = run_tutorial(NAME)  # the default solution: exercises/batch_processor
    assert run.result.ret == 1
    assert run.report["verdict"] == "not_validated"
    assert run.report["solution"]["kind"] == "learner"
    statuses = run.automated_statuses()
    assert set(statuses) == ITEMS
    assert "passed" not in statuses.values(), statuses
    checks = [check for item in run.report["checklist"] for check in item["checks"]]
    assert len(checks) >= 20
    passed = [check["id"] for check in checks if check["status"] != "failed"]
    assert not passed, passed
    assert run.report["score"]["points"] == 0
    documentation = run.items["documentation"]["checks"][0]["message"]
    assert "TODO" in documentation
    run.result.stdout.fnmatch_lines(["*FAIL*core*", "*hint:*", "verdict: NOT VALIDATED*"])


def test_learner_tests_that_miss_known_bugs_fail_the_tests_item(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    folder = copy_solution("reference_solutions", NAME, to="weak_tests")
    (folder / "tests" / "test_batch_processor.py").write_text(
        "import asyncio\n\n"
        "import pytest\n"
        "from batch_processor import BatchProcessor\n\n\n"
        "async def double(item):\n"
        "    return item * 2\n\n\n"
        "@pytest.mark.asyncio\n"
        "async def test_values():\n"
        "    result = await BatchProcessor(double).process([1, 2, 3])\n"
        "    assert [r.value for r in result.results] == [2, 4, 6]\n",
        encoding="utf-8",
    )
    run = run_tutorial(NAME, "-k", "own_tests", solution=folder)
    checks = {c["id"].rsplit("::", 1)[-1]: c for c in run.items["tests"]["checks"]}
    assert checks["test_own_tests_pass_in_shuffled_order"]["status"] == "passed"
    caught = checks["test_own_tests_catch_known_bugs"]
    assert caught["status"] == "failed"
    assert "unbounded_concurrency" in caught["message"]  # nothing here counts calls in flight


def test_order_dependent_learner_tests_fail_the_tests_item(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    """Tests sharing one processor across tests depend on their order, and are caught."""
    folder = copy_solution("reference_solutions", NAME, to="order_dependent")
    (folder / "tests" / "test_order.py").write_text(
        "import pytest\n"
        "from batch_processor import BatchProcessor\n\n"
        "SEEN = []\n\n\n"
        "async def record(item):\n"
        "    SEEN.append(item)\n"
        "    return item\n\n\n"
        "PROCESSOR = BatchProcessor(record)\n\n"
        + "".join(
            f"@pytest.mark.asyncio\n"
            f"async def test_step_{n}():\n"
            f"    await PROCESSOR.process([{n}])\n"
            f"    assert SEEN == list(range({n + 1}))\n\n\n"
            for n in range(6)
        ),
        encoding="utf-8",
    )
    run = run_tutorial(NAME, "-k", "own_tests_pass", solution=folder)
    assert run.status("tests") == "failed"
    assert "shuffled order" in run.items["tests"]["checks"][0]["message"]
