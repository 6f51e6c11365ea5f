"""The learner's own pytest settings neither hide, duplicate nor fail the tutorial's checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RunTutorial, apply_edits, checks_in

pytestmark = pytest.mark.slow

HOSTILE_INI = """[pytest]
python_files = nothing_*.py
python_classes = Nope
python_functions = nope_*
testpaths = mine
filterwarnings = error
"""


def test_checks_run_once_whatever_the_learners_ini_says(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], pytester: pytest.Pytester
) -> None:
    pytester.makeini(HOSTILE_INI)
    (pytester.path / "mine").mkdir()
    (pytester.path / "mine" / "test_mine.py").write_text("def test_mine():\n    assert False\n")
    folder = copy_solution("reference_solutions", "caching", to="warns")
    stats = (
        '        """Return a snapshot of local_hits, redis_hits, misses and (survived) '
        'redis_errors."""\n'
    )
    apply_edits(
        folder / "cache_service.py",
        [
            (
                stats,
                stats
                + '        import warnings\n\n        warnings.warn("old", DeprecationWarning)\n',
            )
        ],
        "warns",
    )
    run = run_tutorial("caching", "-k", "not own_tests", solution=folder, fresh_process=True)
    checks = [check for item in run.report["checklist"] for check in item["checks"]]
    assert len(checks) == len({check["id"] for check in checks}) == checks_in("caching")
    statuses = run.automated_statuses()
    assert statuses.pop("tests") == "skipped"
    assert set(statuses.values()) == {"passed"}, statuses
    assert "DeprecationWarning" in run.result.stdout.str()  # shown as a warning, not an error
    assert "test_mine" not in run.result.stdout.str()
