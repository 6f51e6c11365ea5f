"""What a learner reads: the checklist first, one screen, nothing of the harness or the answer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RunTutorial

pytestmark = pytest.mark.slow
SCREEN = 80


def test_the_starter_fits_one_screen_and_lists_every_failing_check(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("exercises", "caching")
    run = run_tutorial("caching")
    lines = run.result.outlines
    assert len(lines) <= SCREEN, "\n".join(lines)
    text = run.result.stdout.str()
    for check in (c for item in run.report["checklist"] for c in item["checks"]):
        assert check["name"] in text, check["name"]
    assert "hint 2/" not in text
    assert "Traceback" not in text
    assert "FAILED caching/" not in text
    assert "pytest_tutorial/" not in text
    assert "\nplatform " not in text  # pytest's header is back only with -v
    run.result.stdout.fnmatch_lines(["*Validation Checklist*", "*verdict: NOT VALIDATED*"])


def test_a_failure_names_the_call_the_check_made_and_where_the_learner_code_raised(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("exercises", "caching")
    run = run_tutorial("caching", "-k", "computes_once")
    (check,) = run.items["core"]["checks"][:1]
    assert check["name"] == "test_computes_once_then_serves_the_cached_value"
    message = check["message"]
    assert message.startswith("NotImplementedError: ")
    assert 'in service.get_or_compute("user:1", compute)' in message
    assert "at exercises/caching/cache_service.py:" in message


@pytest.mark.parametrize("style", ["short", "long"])
def test_a_traceback_on_request_shows_no_harness_frame_and_no_hint(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], style: str
) -> None:
    copy_solution("exercises", "caching")
    run = run_tutorial("caching", "-k", "computes_once or redis_down_still", f"--tb={style}")
    text = run.result.stdout.str()
    assert "exercises/caching/cache_service.py" in text  # the learner's own frame is there
    for leaked in ("pytest_tutorial/fixtures", "site-packages", "hint=", "@pytest.mark"):
        assert leaked not in text, leaked
    assert "order of a read" not in text  # hint level 2 of the failing check: the answer


def test_an_import_error_is_shown_once_above_the_checklist(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    folder = copy_solution("exercises", "caching")
    (folder / "cache_service.py").write_text("def broken(:\n    pass\n", encoding="utf-8")
    run = run_tutorial("caching", "-k", "not own_tests")
    text = run.result.stdout.str()
    assert text.count("SyntaxError") == 1, text
    run.result.stdout.fnmatch_lines(
        [
            "solution: exercises/caching (learner)",
            "problem: could not import the solution: exercises/caching/cache_service.py:1: *",
            "Validation Checklist",
        ]
    )
    assert "hint" not in text
