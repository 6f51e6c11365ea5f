"""Every correct alternative design of the bundled tutorials passes in worker mode too.

The designs of ``tests/alternatives/NAME/`` (each differs from the reference in data
structure, concurrency primitive, library or encoding) pass every check in one process
(``tests/test_*_alternatives.py``); here they run with ``--tutorial-isolation=worker``.
The learner's own tests run in child processes whatever the mode, so they are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_tutorial.options import ISOLATION
from tests.conftest import REPO, RunTutorial

pytestmark = pytest.mark.slow

ALTERNATIVES = REPO / "tests" / "alternatives"
DESIGNS = sorted(
    (tutorial.name, design.name)
    for tutorial in ALTERNATIVES.iterdir()
    if tutorial.is_dir() and not tutorial.name.startswith("__")
    for design in tutorial.iterdir()
    if design.is_dir() and not design.name.startswith("__")
)


@pytest.mark.parametrize(("tutorial", "design"), DESIGNS, ids=[f"{t}-{d}" for t, d in DESIGNS])
def test_alternative_passes_every_check_in_worker_mode(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], tutorial: str, design: str
) -> None:
    copy_solution("reference_solutions", tutorial)  # the relative performance target's
    folder = copy_solution(f"tests/alternatives/{tutorial}", design, to=f"alternatives/{design}")
    run = run_tutorial(tutorial, f"{ISOLATION}=worker", "-k", "not own_tests", solution=folder)
    failed = {
        check["id"].rsplit("::", 1)[-1]: check["message"]
        for item in run.report["checklist"]
        for check in item["checks"]
        if check["status"] not in ("passed", "skipped")
    }
    assert not failed, failed
    assert run.status("core") == "passed"
