"""Kept runs of the learner's tests against the bugs: what invalidates them, what is reused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_tutorial.fixtures import learner
from pytest_tutorial.fixtures.learner import LearnerTests
from pytest_tutorial.grading import child
from pytest_tutorial.grading.protocol import ChildArgs
from pytest_tutorial.learner_layout import solution_layout
from pytest_tutorial.learner_model import Implementation, Kind, Layout, LearnerTestRun
from pytest_tutorial.learner_run_cache import MAX_ENTRIES, RunCache

BUG = Implementation(Kind.HIDDEN, "hidden bug 1", "a constant changed", "WHO = 'bug'\n")
CONTROL = Implementation(Kind.CONTROL, "control", "", "WHO = 'control'\n")


@pytest.fixture
def solution(tmp_path: Path) -> Path:
    folder = tmp_path / "solution"
    (folder / "tests").mkdir(parents=True)
    (folder / "cache_service.py").write_text("WHO = 'learner'\n")
    (folder / "helpers.py").write_text("HELP = 1\n")
    (folder / "tests" / "test_it.py").write_text("def test_it():\n    assert True\n")
    return folder


def _key(solution: Path, implementation: Implementation = BUG, seed: int = 1) -> str:
    cache = RunCache(solution.parent / "kept")
    return cache.key(solution_layout(solution, "cache_service"), implementation, seed, True)


def _run(implementation: Implementation, **changes: object) -> LearnerTestRun:
    fields: dict[str, object] = {
        "exit_code": 1,
        "outcomes": {"tests/test_it.py::test_it": "failed"},
        "collection_errors": (),
        "output": "1 failed",
    }
    fields.update(changes)
    return LearnerTestRun(implementation, 1, **fields)  # type: ignore[arg-type]


def test_editing_the_learners_module_keeps_the_key(solution: Path) -> None:
    before = _key(solution)
    (solution / "cache_service.py").write_text("WHO = 'edited'\n")
    assert _key(solution) == before


@pytest.mark.parametrize("edited", ["tests/test_it.py", "helpers.py", "tests/conftest.py"])
def test_editing_what_the_tests_run_changes_the_key(solution: Path, edited: str) -> None:
    before = _key(solution)
    (solution / edited).write_text("# changed\n")
    assert _key(solution) != before


def test_another_bug_or_seed_is_another_key(solution: Path) -> None:
    keys = {_key(solution), _key(solution, CONTROL), _key(solution, seed=2)}
    assert len(keys) == 3


def test_a_kept_run_comes_back_as_it_was(tmp_path: Path) -> None:
    cache = RunCache(tmp_path / "kept")
    run = _run(BUG, collection_errors=("tests/test_x.py: SyntaxError",))
    cache.put("k", run)
    assert cache.get("k", BUG, 1) == run
    assert cache.get("other", BUG, 1) is None


def test_a_run_that_did_not_finish_is_not_kept(tmp_path: Path) -> None:
    cache = RunCache(tmp_path / "kept")
    cache.put("timed-out", _run(BUG, timed_out=True))
    cache.put("crashed", _run(BUG, crashed=True))
    assert cache.get("timed-out", BUG, 1) is None
    assert cache.get("crashed", BUG, 1) is None


def test_a_damaged_entry_is_no_entry(tmp_path: Path) -> None:
    cache = RunCache(tmp_path / "kept")
    cache.put("k", _run(BUG))
    (tmp_path / "kept" / "k.json").write_text('{"exit_code": "x"')
    assert cache.get("k", BUG, 1) is None


def test_only_the_newest_entries_are_kept(tmp_path: Path) -> None:
    cache = RunCache(tmp_path / "kept")
    folder = tmp_path / "kept"
    folder.mkdir()
    for number in range(MAX_ENTRIES + 5):
        (folder / f"old{number}.json").write_text(json.dumps({}))
    cache.put("new", _run(BUG))
    assert len(list(folder.glob("*.json"))) == MAX_ENTRIES
    assert cache.get("new", BUG, 1) is not None


def test_a_second_session_runs_only_the_learners_implementation(
    solution: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[list[Kind]] = []

    def fake_run_many(
        layout: Layout, jobs: list[tuple[Implementation, int]], **_: object
    ) -> list[LearnerTestRun]:
        ran.append([implementation.kind for implementation, _ in jobs])
        return [
            _run(implementation, **_passed_if_control(implementation)) for implementation, _ in jobs
        ]

    monkeypatch.setattr(learner, "run_many", fake_run_many)

    def session() -> list[LearnerTestRun]:
        tests = LearnerTests(
            solution, "cache_service", [CONTROL, BUG], kept=RunCache(tmp_path / "kept")
        )
        tests.start()
        return tests._all()

    first, second = session(), session()
    yours = [Kind.YOURS] * 3
    assert ran == [[*yours, Kind.CONTROL, Kind.HIDDEN], yours]
    assert [run.implementation for run in second] == [run.implementation for run in first]
    assert second[3:] == first[3:]


def _passed_if_control(implementation: Implementation) -> dict[str, object]:
    """A control run's fields: its test passed (the runs against the bugs then end early)."""
    if implementation.kind is not Kind.CONTROL:
        return {}
    return {"exit_code": 0, "outcomes": {"tests/test_it.py::test_it": "passed"}}


def test_a_test_failing_against_the_control_has_the_bugs_run_again_in_full(
    solution: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first runs against the control and the bugs end at a failing test: which tests
    pass against the control is then unknown, so they are made again, to the end."""
    ran: list[tuple[list[Kind], object]] = []

    def fake_run_many(
        layout: Layout, jobs: list[tuple[Implementation, int]], **options: object
    ) -> list[LearnerTestRun]:
        ran.append(([implementation.kind for implementation, _ in jobs], options["exitfirst"]))
        return [_run(implementation) for implementation, _ in jobs]

    monkeypatch.setattr(learner, "run_many", fake_run_many)
    tests = LearnerTests(solution, "cache_service", [CONTROL, BUG], kept=RunCache(tmp_path / "k"))
    tests.start()
    runs = tests._all()
    assert ran == [
        ([Kind.YOURS] * 3 + [Kind.CONTROL, Kind.HIDDEN], learner.EXITFIRST_KINDS),
        ([Kind.CONTROL, Kind.HIDDEN], ()),
    ]
    assert [run.implementation.kind for run in runs] == [Kind.YOURS] * 3 + [
        Kind.CONTROL,
        Kind.HIDDEN,
    ]


def test_grading_never_reuses_runs(tmp_path: Path) -> None:
    args = ChildArgs(
        stream_fd=1, token_fd=0, tutorial="caching", tutorial_dir=tmp_path, scratch=tmp_path
    )
    assert "--tutorial-fresh-runs" in child._pytest_args(args, tmp_path / "submission")
