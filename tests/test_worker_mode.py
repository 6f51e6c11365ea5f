"""Worker mode end to end on the mini course: the learner's code in a worker of its own.

A crash or a time limit fails only the check that was running (the next check gets a fresh
worker), an import failure reads as in one process, and code that rewrites the checks in
one process cannot reach them from the worker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tutorial.check_status import WORKER_ENDED
from pytest_tutorial.failures import IMPORT_FAILURE
from pytest_tutorial.options import ISOLATION, TIMEOUT
from tests.conftest import REPO, RunTutorial
from tests.mini_course import REFERENCE, make_course

pytestmark = pytest.mark.slow

WORKER = f"{ISOLATION}=worker"


def _solution(root: Path, source: str) -> Path:
    folder = root / "submissions" / "mini"
    folder.mkdir(parents=True)
    (folder / "mini.py").write_text(source, encoding="utf-8")
    return folder


def _messages(run: object) -> dict[str, tuple[str, str]]:
    report = run.report  # type: ignore[attr-defined]
    return {
        check["id"].rsplit("::", 1)[-1]: (check["status"], check["message"])
        for item in report["checklist"]
        for check in item["checks"]
    }


@pytest.fixture
def course(pytester: pytest.Pytester) -> Path:
    return make_course(pytester.path)


def test_a_crash_fails_the_running_check_and_a_fresh_worker_serves_the_next(
    course: Path, run_tutorial: RunTutorial
) -> None:
    crashing = REFERENCE.replace(
        "    if value > high:",
        "    if value == 11:\n        import os\n        os._exit(3)\n    if value > high:",
    )
    run = run_tutorial("mini", WORKER, solution=_solution(course, crashing))
    messages = _messages(run)
    status, message = messages["test_clamps"]
    assert status == "failed"
    assert message.startswith(WORKER_ENDED), message
    assert "exited with status 3" in message
    assert messages["test_bad_range"] == ("passed", "")


def test_a_time_limit_stops_the_worker_and_the_next_check_gets_a_fresh_one(
    course: Path, run_tutorial: RunTutorial
) -> None:
    hanging = REFERENCE.replace(
        "    if value > high:", "    while value == 11:\n        pass\n    if value > high:"
    )
    run = run_tutorial("mini", WORKER, f"{TIMEOUT}=2", solution=_solution(course, hanging))
    messages = _messages(run)
    assert messages["test_clamps"][0] == "timeout", messages
    assert messages["test_bad_range"] == ("passed", "")


def test_a_time_limit_inside_a_property_check_reads_as_a_timeout(
    pytester: pytest.Pytester, run_tutorial: RunTutorial
) -> None:
    """The time limit stops the worker in the middle of hypothesis's examples; the check
    reads as a timeout, not as whatever hypothesis made of the examples that followed."""
    source = (REPO / "reference_solutions/caching/cache_service.py").read_text(encoding="utf-8")
    hanging = source.replace(
        "        self._store(key, self.redis_key(key), _encode(value))",
        "        while value == []:\n            pass\n"
        "        self._store(key, self.redis_key(key), _encode(value))",
    )
    assert hanging != source
    folder = pytester.path / "hanging"
    folder.mkdir()
    (folder / "cache_service.py").write_text(hanging, encoding="utf-8")
    run = run_tutorial("caching", WORKER, f"{TIMEOUT}=3", "-k", "round_trip", solution=folder)
    status, message = _messages(run)["test_any_key_and_json_value_round_trip"]
    assert status == "timeout", message
    assert "time limit" in message


@pytest.mark.parametrize(
    "source",
    [
        '"""Broken."""\n\nraise RuntimeError("boom at import")\n',
        '"""Broken."""\n\ndef clamp(value, low, high)\n    return value\n',
        '"""Nothing exported."""\n\nLIMIT = 3\n',
    ],
    ids=["raises", "syntax-error", "missing-export"],
)
def test_an_import_failure_reads_the_same_in_both_modes(
    course: Path, run_tutorial: RunTutorial, source: str
) -> None:
    folder = _solution(course, source)
    in_process = _messages(run_tutorial("mini", solution=folder))
    in_worker = _messages(run_tutorial("mini", WORKER, solution=folder))
    assert in_worker == in_process
    assert all(message.startswith(IMPORT_FAILURE) for _, message in in_worker.values())


FORGER = '''"""A starter that rewrites the checks instead of writing clamp."""

import sys

for name, module in list(sys.modules.items()):
    if name.endswith("check_mini"):
        module.test_bad_range.__code__ = (lambda solution: None).__code__


def clamp(value, low, high):
    """Not written."""
    raise NotImplementedError
'''


def test_code_that_rewrites_a_check_in_one_process_cannot_from_the_worker(
    course: Path, run_tutorial: RunTutorial
) -> None:
    folder = _solution(course, FORGER)
    forged = _messages(run_tutorial("mini", solution=folder))
    assert forged["test_bad_range"][0] == "passed"  # what worker mode is for
    honest = _messages(run_tutorial("mini", WORKER, solution=folder))
    assert honest["test_bad_range"][0] == "failed", honest
    assert honest["test_clamps"][0] == "failed"
