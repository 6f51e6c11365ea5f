"""The ``tests`` item end to end: which learner test suites earn it, and what it says.

Each case is a solution folder (the reference's or the starter's code) with a test suite
of its own, run with ``pytest --tutorial=NAME -k own_tests``. That each reference's own
tests earn the item is asserted on the reference's whole run in worker mode
(``tests/test_worker_mode_tutorials.py``): the learner's tests run in child processes
whatever the mode, so a run of their own here would repeat that one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial import learner_tests
from pytest_tutorial.warm import WarmServer, warm_imports
from tests.conftest import RunTutorial, TutorialRun

pytestmark = pytest.mark.slow

PASS = "test_own_tests_pass_in_shuffled_order"
CATCH = "test_own_tests_catch_known_bugs"

SNIFFING_TESTS = '''
"""Tests that pass on the learner's stubs and tried to fail on every other implementation."""
import inspect
import sys

import cache_service


def test_not_run_from_a_known_bad_folder():
    assert "known_bad" not in cache_service.__file__


def test_no_known_bad_module_loaded():
    assert not [name for name in sys.modules if "known_bad" in name]


def test_the_code_is_mine():
    assert "NotImplementedError" in inspect.getsource(cache_service)
'''
TRIVIAL_TESTS = """
import fakeredis
from cache_service import CacheService


def test_imports():
    assert CacheService


def test_builds():
    CacheService(fakeredis.FakeRedis())


def test_set_runs():
    CacheService(fakeredis.FakeRedis()).set("k", 1)
"""
KNOWN_BUGS_ONLY_TESTS = """
import fakeredis
from cache_service import CacheService


def test_a_value_is_kept():
    cache = CacheService(fakeredis.FakeRedis())
    cache.set("k", 1)
    assert cache.get("k") == 1


def test_redis_holds_it_with_a_ttl():
    redis = fakeredis.FakeRedis()
    CacheService(redis).set("k", 1)
    assert redis.ttl("cache:k") > 0
"""


def checks(run: TutorialRun) -> dict[str, dict[str, Any]]:
    return {c["id"].rsplit("::", 1)[-1]: c for c in run.items["tests"]["checks"]}


def own_tests_messages(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> tuple[TutorialRun, list[str]]:
    """A run of the two ``tests`` checks against a copy of the caching reference, and their
    messages."""
    folder = copy_solution("reference_solutions", "caching", to="unjudged")
    run = run_tutorial("caching", "-k", "own_tests", solution=folder)
    result = checks(run)
    return run, [result[check]["message"] for check in (PASS, CATCH)]


def with_tests(
    copy_solution: Callable[..., Path], base: str, name: str, to: str, tests: str | None
) -> Path:
    folder = copy_solution(base, name, to=to)
    if tests is not None:
        for old in (folder / "tests").glob("test_*.py"):
            old.unlink()
        (folder / "tests" / "test_mine.py").write_text(tests, encoding="utf-8")
    return folder


def test_tests_that_tell_the_runs_apart_earn_nothing(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    """Location and sys.modules are the same in every run; a content check fails the control.

    Against the starter's stubs these tests pass; they used to fail against every known-bad
    implementation, and so earned the whole item with stub code.
    """
    folder = with_tests(copy_solution, "exercises", "caching", "sniffer", SNIFFING_TESTS)
    run = run_tutorial("caching", "-k", "own_tests", solution=folder)
    result = checks(run)
    assert result[PASS]["status"] == "passed"
    assert result[CATCH]["status"] == "failed"
    message = result[CATCH]["message"]
    assert "they miss 2 of 2 known bugs: recomputes_every_call (stores nothing" in message
    assert "drops_ttl (writes values to Redis without a TTL" in message
    assert "they catch 0 of 4 hidden bugs, 2 needed; missed: " in message
    assert "known_bad.py:" in message  # where each hidden bug is
    assert (
        "1 of your tests fail against a correct implementation of the contract too, so they "
        "catch nothing: tests/test_mine.py::test_the_code_is_mine" in message
    )
    assert "at least 2 of 4 hidden bugs" in result[CATCH]["hint"]


def test_tests_that_use_hypothesis_start_with_its_unicode_tables(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    """Each run has a new hypothesis storage folder; tests that draw text would build the
    tables in every run (about a second of CPU each) without the session's."""
    folder = copy_solution("reference_solutions", "caching", to="with_hypothesis")
    (folder / "tests" / "test_tables.py").write_text(
        "import os\n\n"
        "import hypothesis\n\n"
        "def test_hypothesis_finds_its_unicode_tables():\n"
        "    home = os.path.join(os.environ['HYPOTHESIS_STORAGE_DIRECTORY'], 'unicode_data')\n"
        "    names = [name for _, _, files in os.walk(home) for name in files]\n"
        "    assert any(name.startswith('charmap') for name in names), names\n",
        encoding="utf-8",
    )
    run = run_tutorial("caching", "-k", "own_tests", solution=folder)
    assert checks(run)[PASS]["status"] == "passed", checks(run)[PASS]["message"]


def test_three_trivial_tests_fail_the_item(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    folder = with_tests(copy_solution, "reference_solutions", "caching", "trivial", TRIVIAL_TESTS)
    run = run_tutorial("caching", "-k", "own_tests", solution=folder)
    assert run.status("tests") == "failed"
    result = checks(run)
    assert result[PASS]["status"] == "passed"
    assert result[CATCH]["status"] == "failed"
    assert "they miss 2 of 2 known bugs" in result[CATCH]["message"]


def test_the_starters_tests_fail_the_item(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    """The starter's two example tests, beside a correct implementation."""
    folder = copy_solution("reference_solutions", "caching", to="starter_tests")
    starter = copy_solution("exercises", "caching", to="starter")
    for old in (folder / "tests").glob("test_*.py"):
        old.unlink()
    (folder / "tests" / "test_cache_service.py").write_text(
        (starter / "tests" / "test_cache_service.py").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    run = run_tutorial("caching", "-k", "own_tests", solution=folder)
    result = checks(run)
    assert result[PASS]["status"] == "passed"
    assert result[CATCH]["status"] == "failed"
    assert "known bugs" in result[CATCH]["message"]


def test_catching_only_the_known_bugs_is_not_enough(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    """The hidden bugs are what the learner has not seen: tests written to the two known
    bugs alone miss them, and the message says what each one was."""
    folder = with_tests(
        copy_solution, "reference_solutions", "caching", "known_only", KNOWN_BUGS_ONLY_TESTS
    )
    run = run_tutorial("caching", "-k", "own_tests", solution=folder)
    result = checks(run)
    assert result[PASS]["status"] == "passed"
    assert result[CATCH]["status"] == "failed"
    message = result[CATCH]["message"]
    assert "known bugs" not in message
    assert message.startswith(
        "your tests pass against buggy implementations: they catch 0 of 4 hidden bugs, 2 needed"
    )
    assert message.count("known_bad.py:") == 4
    assert " in CacheService." in message or " in monitor" in message


def test_failing_tests_are_named(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    tests = KNOWN_BUGS_ONLY_TESTS + "\n\ndef test_wrong():\n    assert 1 == 2\n"
    folder = with_tests(copy_solution, "reference_solutions", "caching", "wrong", tests)
    run = run_tutorial("caching", "-k", "own_tests_pass", solution=folder)
    message = checks(run)[PASS]["message"]
    assert message == (
        "your tests must pass 3 times in shuffled order; 1 test failed or errored: "
        "tests/test_mine.py::test_wrong (every seed)"
    )


def test_a_test_that_fails_everywhere_hides_no_bug_the_others_catch(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    """The runs against the control and the bugs end at their first failing test; when one
    fails against the control they are all made again in full, so the reference's tests
    still catch every bug, whatever order the shuffle gives the always failing ones."""
    folder = copy_solution("reference_solutions", "caching", to="wrong_beside")
    wrong = "".join(f"\n\ndef test_wrong_{n}():\n    assert {n} == -1\n" for n in range(12))
    (folder / "tests" / "test_wrong.py").write_text(wrong, encoding="utf-8")
    run = run_tutorial("caching", "-k", "own_tests", solution=folder)
    result = checks(run)
    assert result[PASS]["status"] == "failed"
    assert result[CATCH]["status"] == "passed", result[CATCH]["message"]


@pytest.mark.own_learner_server
def test_a_runs_process_that_cannot_start_is_said_to_be_the_harnesss_problem(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Why it could not start and what to do reach the learner, instead of a verdict on
    their tests; one start is tried for the session, not one for each of its ten runs."""
    broken = tmp_path / "broken_install"
    broken.mkdir()
    (broken / "broken_module_of_the_test.py").write_text(
        "raise RuntimeError('this install is broken')\n", encoding="utf-8"
    )
    monkeypatch.setenv("PYTHONPATH", str(broken))
    monkeypatch.setattr(
        learner_tests,
        "warm_imports",
        lambda **kinds: (*warm_imports(**kinds), "broken_module_of_the_test"),
    )
    starts: list[object] = []
    start = WarmServer.start

    def counted_start(*args: Any, **kwargs: Any) -> WarmServer | None:
        starts.append(args)
        return start(*args, **kwargs)

    monkeypatch.setattr(WarmServer, "start", counted_start)
    learner_tests.stop_all()  # no server of an earlier test is reused
    _, messages = own_tests_messages(run_tutorial, copy_solution)
    for message in messages:
        assert "could not start the process that runs your tests, so they were not" in message
        assert "RuntimeError: this install is broken (while warming up)" in message
        assert "pip install pytest-tutorial" in message
    assert len(starts) == 1


def test_a_fault_of_the_harness_while_running_the_tests_is_said_to_be_its_own(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unexpected error in the thread that makes the runs reaches the checks as the
    harness's fault, not as a verdict on the tests or the tutorial, and no traceback."""

    def broken_run(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a fault of the harness")

    monkeypatch.setattr(WarmServer, "run", broken_run)
    run, messages = own_tests_messages(run_tutorial, copy_solution)
    for message in messages:
        assert "the harness failed while running your tests (RuntimeError: a fault" in message
        assert "not of your tests" in message
    assert "Traceback" not in run.result.stdout.str()
    assert "UnhandledThreadException" not in run.result.stdout.str()
