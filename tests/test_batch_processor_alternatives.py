"""Correct batch processors that differ in design from the reference each pass every item.

A grader that only accepts code shaped like its reference solution rejects correct work.
Each folder of ``tests/alternatives/batch_processor/`` is a complete, documented, typed
solution built another way:

- ``worker_pool``: a fixed pool of worker tasks per chunk pulling positions from an
  ``asyncio.Queue`` in a ``TaskGroup``; ``asyncio.wait_for`` timeouts; a slotted class
  for results; a retrying item keeps its worker while it backs off.
- ``anyio_tenacity``: anyio task groups and a ``CapacityLimiter``; tenacity's
  ``AsyncRetrying`` drives the retries and passes its delays as a ``float`` subclass.
- ``aiometer_runner``: ``aiometer.run_all(max_at_once=...)`` schedules each chunk; a result
  keeps the error's type and message apart and joins them in ``to_dict``.
- ``wait_window``: no semaphore: a sliding window of tasks driven by ``asyncio.wait``
  (``FIRST_COMPLETED``); a backing-off item leaves the window and queues up again.

Each runs the whole tutorial, the learner-tests item with the reference's tests copied in
(they test behaviour, not the reference's shape), and every automated item must pass.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, RunTutorial

pytestmark = pytest.mark.slow

NAME = "batch_processor"
ALTERNATIVES = REPO / "tests" / "alternatives" / NAME
DESIGNS = sorted(path.name for path in ALTERNATIVES.iterdir() if (path / f"{NAME}.py").is_file())


def test_there_are_at_least_three_designs() -> None:
    assert len(DESIGNS) >= 3, DESIGNS


@pytest.mark.parametrize("design", DESIGNS)
def test_alternative_passes_every_item(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    pytester: pytest.Pytester,
    design: str,
) -> None:
    copy_solution("reference_solutions", NAME)  # the performance check's reference
    folder = pytester.path / design
    folder.mkdir()
    shutil.copy2(ALTERNATIVES / design / f"{NAME}.py", folder / f"{NAME}.py")
    shutil.copytree(
        REPO / "reference_solutions" / NAME / "tests",
        folder / "tests",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    run = run_tutorial(NAME, solution=folder)
    statuses = run.automated_statuses()
    failures = {
        check["name"]: check["message"]
        for item in run.report["checklist"]
        for check in item["checks"]
        if check["status"] != "passed"
    }
    assert set(statuses.values()) == {"passed"}, (statuses, failures)
    assert run.report["verdict"] == "validated"
