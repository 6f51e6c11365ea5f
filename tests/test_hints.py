"""Hints in levels, the command that reruns a check, and hypothesis' counterexample."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_tutorial.options import HINT_LEVEL, TUTORIAL
from tests.conftest import RunTutorial

pytestmark = pytest.mark.slow
ONE_CHECK = ("-k", "computes_once")


def _check(run: object, name: str) -> dict[str, object]:
    report = run.report  # type: ignore[attr-defined]
    return next(c for item in report["checklist"] for c in item["checks"] if name in c["id"])


def test_each_failing_run_shows_one_more_hint_level_until_it_passes(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("exercises", "caching")
    first = run_tutorial("caching", *ONE_CHECK)
    check = _check(first, "computes_once")
    assert (check["hint_level"], check["hint_levels"]) == (1, 3)
    assert str(check["hint"]).count("\n") == 0
    first.result.stdout.fnmatch_lines(
        [
            "*hint 1/3: get_or_compute: look in the caches first*",
            "*rerun: pytest --tutorial=caching -k test_computes_once*",
        ]
    )
    assert "hint 2/3" not in first.result.stdout.str()
    second = run_tutorial("caching", *ONE_CHECK)
    assert _check(second, "computes_once")["hint_level"] == 2
    second.result.stdout.fnmatch_lines(["*hint 1/3:*", "*hint 2/3: order of a read*"])
    third = run_tutorial("caching", *ONE_CHECK, f"{HINT_LEVEL}=all")
    assert _check(third, "computes_once")["hint_level"] == 3
    third.result.stdout.fnmatch_lines(["*hint 3/3: on a miss*"])


def test_a_passing_run_resets_the_hint_level(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    learner = copy_solution("exercises", "caching")
    run_tutorial("caching", *ONE_CHECK)
    run_tutorial("caching", *ONE_CHECK)
    reference = (
        Path(__file__).parent.parent / "reference_solutions" / "caching" / "cache_service.py"
    )
    (learner / "cache_service.py").write_text(reference.read_text())
    passed = run_tutorial("caching", *ONE_CHECK)
    assert _check(passed, "computes_once")["status"] == "passed"
    (learner / "cache_service.py").write_text("raise RuntimeError('broken again')\n")
    again = run_tutorial("caching", *ONE_CHECK)
    assert _check(again, "computes_once")["hint_level"] == 1


def test_a_failing_property_shows_the_counterexample_and_how_to_rerun_it(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    folder = copy_solution("reference_solutions", "caching", to="lossy")
    module = folder / "cache_service.py"
    text = module.read_text()
    old = "            value: JSONValue = json.loads(payload)\n"
    assert text.count(old) == 1
    lossy = old + "            value = value if value is None else [value]\n"
    module.write_text(text.replace(old, lossy))
    run = run_tutorial("caching", "-k", "any_key", solution=folder)
    check = _check(run, "test_any_key_and_json_value_round_trip")
    assert check["status"] == "failed"
    counterexample = str(check["counterexample"])
    assert "test_any_key_and_json_value_round_trip(" in counterexample
    assert "value=" in counterexample
    assert "make_service=" not in counterexample
    assert "redis_inspector=" not in counterexample
    reproduce = str(check["reproduce"])
    assert reproduce.startswith(f"pytest {TUTORIAL}=caching --tutorial-solution=")
    assert reproduce.endswith("-k test_any_key_and_json_value_round_trip")
    run.result.stdout.fnmatch_lines(
        [
            "*test_any_key_and_json_value_round_trip(*",
            "*value=*",
            "*rerun: pytest --tutorial=caching*",
        ]
    )


def test_a_bad_hint_level_is_a_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "exercises" / "caching").mkdir(parents=True)
    result = pytester.runpytest(f"{TUTORIAL}=caching", f"{HINT_LEVEL}=lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--tutorial-hint-level=lots is not valid" in result.stderr.str()
