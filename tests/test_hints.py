"""Hints in levels, the command that reruns a check, and hypothesis' counterexample."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_tutorial.options import HINT_LEVEL, TUTORIAL
from pytest_tutorial.stub_properties import NOTE_PREFIX
from tests.conftest import RunTutorial

pytestmark = pytest.mark.slow
ONE_CHECK = ("-k", "computes_once")
TWO_CORE_CHECKS = ("-k", "computes_once or set_then_get")


def _check(run: object, name: str) -> dict[str, object]:
    report = run.report  # type: ignore[attr-defined]
    return next(c for item in report["checklist"] for c in item["checks"] if name in c["id"])


def test_a_hint_climbs_only_when_the_learner_changed_the_code_since_it_was_shown(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    starter = copy_solution("exercises", "caching")
    first = run_tutorial("caching", *TWO_CORE_CHECKS)
    check = _check(first, "computes_once")
    assert (check["hint_level"], check["hint_levels"]) == (1, 3)
    assert str(check["hint"]).count("\n") == 0
    first.result.stdout.fnmatch_lines(
        [
            "*hint 1/3: get_or_compute: look in the caches first*",
            "*rerun: pytest --tutorial=caching -k test_computes_once*",
            "*- test_set_then_get_round_trips_through_redis: *",
        ]
    )
    untouched = run_tutorial("caching", *TWO_CORE_CHECKS)
    assert _check(untouched, "computes_once")["hint_level"] == 1
    assert "hint 2/3" not in untouched.result.stdout.str()

    with (starter / "cache_service.py").open("a", encoding="utf-8") as module:
        module.write("\n# trying something\n")
    changed = run_tutorial("caching", *TWO_CORE_CHECKS)
    assert _check(changed, "computes_once")["hint_level"] == 2
    changed.result.stdout.fnmatch_lines(["*hint 1/3:*", "*hint 2/3: order of a read*"])
    # listed on one line only, never shown with its hint: it did not climb
    assert _check(changed, "set_then_get")["hint_level"] == 1
    shown_at_last = run_tutorial("caching", *TWO_CORE_CHECKS, "-v")
    assert _check(shown_at_last, "set_then_get")["hint_level"] == 1
    everything = run_tutorial("caching", *TWO_CORE_CHECKS, f"{HINT_LEVEL}=all")
    assert _check(everything, "computes_once")["hint_level"] == 3
    everything.result.stdout.fnmatch_lines(["*hint 3/3: on a miss*"])


def test_the_rerun_command_of_a_fixed_check_exits_zero(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    learner = copy_solution("exercises", "caching")
    failing = run_tutorial("caching")
    command = str(_check(failing, "computes_once")["reproduce"]).split()
    assert command[:2] == ["pytest", "--tutorial=caching"]
    reference = Path(__file__).parent.parent / "reference_solutions" / "caching"
    (learner / "cache_service.py").write_text((reference / "cache_service.py").read_text())
    rerun = run_tutorial("caching", *command[2:])
    assert rerun.result.ret == 0, rerun.result.stdout.str()
    assert rerun.report["verdict"] == "incomplete"
    statuses = rerun.automated_statuses()
    assert statuses.pop("core") == "passed"
    assert set(statuses.values()) == {"skipped"}
    rerun.result.stdout.fnmatch_lines(["*PASS*core*(1 of * checks ran)*", "*INCOMPLETE*"])


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


PARTIAL_SET = """
    def set(self, key: str, value: JSONValue) -> None:
        \"\"\"Lists are not written yet; a call after that one leaves a mark.\"\"\"
        global _STUB_REACHED
        if _STUB_REACHED:
            with open(AFTER_STUB, "a", encoding="utf-8") as marks:
                marks.write(repr(value) + "\\n")
        if isinstance(value, list):
            _STUB_REACHED = True
            raise NotImplementedError("lists are not written yet: see Step 2")
        self._store(key, self.redis_key(key), _encode(value))
"""


@pytest.mark.parametrize("isolation", ["process", "worker"])
def test_a_property_ends_at_the_learners_first_not_implemented_error(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], isolation: str
) -> None:
    """Not shrunk: no call of the learner's code after it; its example is still shown."""
    folder = copy_solution("reference_solutions", "caching", to="partial")
    module = folder / "cache_service.py"
    text = module.read_text()
    start = text.index("    def set(self, key: str, value: JSONValue) -> None:\n")
    end = text.index("    def invalidate(", start)
    old = text[start:end].rstrip("\n") + "\n"
    assert old.endswith("        self._store(key, self.redis_key(key), _encode(value))\n")
    after = folder / "after_stub.txt"
    marks = f"_STUB_REACHED = False\nAFTER_STUB = {str(after)!r}\n"
    module.write_text(text.replace(old, PARTIAL_SET[1:]) + marks)
    run = run_tutorial(
        "caching", "-k", "any_key", f"--tutorial-isolation={isolation}", solution=folder
    )
    check = _check(run, "test_any_key_and_json_value_round_trip")
    assert check["status"] == "failed"
    assert str(check["message"]).startswith("NotImplementedError: lists are not written yet")
    counterexample = str(check["counterexample"])
    assert counterexample.startswith(f"{NOTE_PREFIX}: test_any_key_and_json_value_round_trip(")
    assert "value=[" in counterexample
    assert "make_service=" not in counterexample
    assert not after.exists(), after.read_text()


def test_a_bad_hint_level_is_a_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "exercises" / "caching").mkdir(parents=True)
    result = pytester.runpytest(f"{TUTORIAL}=caching", f"{HINT_LEVEL}=lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--tutorial-hint-level=lots is not valid" in result.stderr.str()
