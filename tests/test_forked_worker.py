"""A run's workers forked by the learner-tests server it was named (isolation/forked_worker).

What the learner's code meets in such a worker is what a worker started as a child of the
run meets; a run named no server, or one that is gone, starts its workers as children.
The grader's path (a job slot's server, the learner box) is tested in
tests/test_learner_fork.py and tests/test_grade_warm.py.
"""

from __future__ import annotations

import os
import socket
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_tutorial import learner_tests
from pytest_tutorial.isolation.forked_worker import ForkedWorker, fork_plain_worker
from pytest_tutorial.isolation.remote import Worker
from pytest_tutorial.learner_model import Layout
from pytest_tutorial.options import ISOLATION
from pytest_tutorial.warm import WarmServer
from tests.conftest import RunTutorial, facts_of_each

pytestmark = pytest.mark.slow

FACTS = '''
"""What a worker's process looks like to the learner's code."""
import logging, os, random, sys


def facts():
    umask = os.umask(0)
    os.umask(umask)
    return {
        "parent": os.getppid(),
        "draw": random.random(),
        "argv0": sys.argv[0],
        "handlers": len(logging.getLogger().handlers),
        "storage": os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"),
        "probe": os.environ.get("FORKED_WORKER_PROBE"),
        "cwd": os.getcwd(),
        "path": sys.path[:2],
        "bytecode": sys.dont_write_bytecode,
        "umask": umask,
        "own_modules": sorted(name for name in sys.modules if name.startswith("facts")),
    }
'''


@pytest.fixture
def learner_server(tmp_path: Path) -> Iterator[tuple[Path, WarmServer]]:
    """A learner-tests server listening on a socket, as ``watch`` keeps one; its socket."""
    folder = tmp_path / "server"
    folder.mkdir()
    path = folder / "learner-tests.sock"
    layout = Layout(folder, "solution", ("tests",))
    server = learner_tests.start_shared_server(layout, path)
    assert server is not None
    try:
        yield path, server
    finally:
        server.close()


def _server_pid(server: WarmServer) -> int:
    assert server.process is not None
    return server.process.pid


def _plain_worker(cwd: Path, server: Path | None) -> Worker:
    """A worker of a run in ``cwd`` without a launcher: forked by ``server``, or a child."""

    def fork(channel: socket.socket) -> ForkedWorker | None:
        return None if server is None else fork_plain_worker(server, channel, cwd)

    return Worker(cwd=str(cwd), python=(sys.executable, "-B"), fork=fork)


def test_a_forked_worker_meets_the_learners_code_as_a_child_would(
    learner_server: tuple[Path, WarmServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its folder first in ``sys.path``, then the run's working folder, as ``python -m`` has it."""
    path, server = learner_server
    solution, run_folder = tmp_path / "solution", tmp_path / "run"
    solution.mkdir()
    run_folder.mkdir()
    (solution / "facts.py").write_text(textwrap.dedent(FACTS), encoding="utf-8")
    monkeypatch.setenv("FORKED_WORKER_PROBE", "set by the run")
    workers = [_plain_worker(run_folder, path) for _ in range(2)]
    workers.append(_plain_worker(run_folder, None))
    first, second, cold = facts_of_each(workers, solution)
    assert cold["parent"] == os.getpid()
    assert first["parent"] == second["parent"] == _server_pid(server)
    assert cold["path"] == [str(solution), str(run_folder)]
    for name in ("argv0", "handlers", "storage", "probe", "cwd", "path", "bytecode", "umask"):
        assert first[name] == cold[name], name
    assert first["own_modules"] == cold["own_modules"] == ["facts"]
    assert first["draw"] != second["draw"]  # each fork seeded afresh


def test_a_storage_folder_the_environment_names_is_kept(
    learner_server: tuple[Path, WarmServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = learner_server
    (tmp_path / "facts.py").write_text(textwrap.dedent(FACTS), encoding="utf-8")
    storage = tmp_path / "hypothesis"
    monkeypatch.setenv("HYPOTHESIS_STORAGE_DIRECTORY", str(storage))
    (found,) = facts_of_each([_plain_worker(tmp_path, path)], tmp_path)
    assert found["storage"] == str(storage)


PARENT_LINE = (
    "\nimport os as _os, pathlib as _pathlib\n"
    "_pathlib.Path(_os.environ['PARENT_RECORD']).write_text(str(_os.getppid()))\n"
)
"""Appended to a solution's module: its worker's parent, written where the test reads it."""


def _worker_parent_of_a_run(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    to: str,
) -> int:
    """The pid of the parent of the worker of a run's solution (a reference that records it)."""
    folder = copy_solution("reference_solutions", "caching", to=to)
    with (folder / "cache_service.py").open("a", encoding="utf-8") as module:
        module.write(PARENT_LINE)
    record = tmp_path / f"parent-{to}"
    monkeypatch.setenv("PARENT_RECORD", str(record))
    check = "test_computes_once_then_serves_the_cached_value"
    run = run_tutorial("caching", f"{ISOLATION}=worker", "-k", check, solution=folder)
    assert run.report["score"]["points"] > 0, run.automated_statuses()
    return int(record.read_text(encoding="utf-8"))


def test_a_run_named_a_learner_tests_server_forks_its_workers_from_it(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The suite's runs are named its shared server (tests/conftest.py), as ``watch``'s are."""
    parent = _worker_parent_of_a_run(run_tutorial, copy_solution, monkeypatch, tmp_path, "forked")
    assert parent != os.getpid()
    command = Path(f"/proc/{parent}/cmdline").read_bytes()
    assert b"pytest_tutorial.warm.server" in command


@pytest.mark.own_learner_server
def test_a_run_named_no_server_or_a_gone_one_starts_its_workers_itself(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv(learner_tests.SHARED_SERVER_VARIABLE, raising=False)
    named_none = _worker_parent_of_a_run(run_tutorial, copy_solution, monkeypatch, tmp_path, "none")
    gone = learner_tests.shared_server_setting(tmp_path / "gone.sock", aws=False)
    monkeypatch.setenv(learner_tests.SHARED_SERVER_VARIABLE, gone)
    named_gone = _worker_parent_of_a_run(run_tutorial, copy_solution, monkeypatch, tmp_path, "gone")
    assert named_none == named_gone == os.getpid()
