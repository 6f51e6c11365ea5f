"""Correct designs other than the reference's pass every automated item of rate_limiter.

A check that rejects one of them is wrong, not the design: each folder under
``tests/alternatives/rate_limiter/`` uses another algorithm or another way to be atomic than
the reference's sliding-window log in Lua (a token bucket, a sliding-window counter, a log
under WATCH/MULTI/EXEC, pyrate-limiter's Redis bucket; its module docstring says how).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, RunTutorial

pytestmark = pytest.mark.slow

ALTERNATIVES = REPO / "tests" / "alternatives" / "rate_limiter"
DESIGNS = sorted(folder.name for folder in ALTERNATIVES.iterdir() if (folder / "tests").is_dir())


def test_there_are_at_least_four_designs() -> None:
    assert len(DESIGNS) >= 4, DESIGNS


@pytest.mark.parametrize("design", DESIGNS)
def test_alternative_passes_every_automated_item(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], design: str
) -> None:
    folder = copy_solution("tests/alternatives/rate_limiter", design, to=f"alternatives/{design}")
    run = run_tutorial("rate_limiter", solution=folder)
    failed = {
        check["id"].rsplit("::", 1)[-1]: check["message"]
        for item in run.report["checklist"]
        for check in item["checks"]
        if check["status"] != "passed"
    }
    assert not failed, failed
    statuses = run.automated_statuses()
    assert set(statuses.values()) == {"passed"}, statuses
    assert run.report["verdict"] == "validated"
