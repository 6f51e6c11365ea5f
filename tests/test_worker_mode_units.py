"""Worker mode's pieces that need no worker: the option, recording a load test's requests,
signatures and names of learner classes, log extras, the fake clock's copy, the status."""

from __future__ import annotations

import inspect
import logging
import traceback
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.check_status import worker_ended
from pytest_tutorial.fixtures.redis import FakeClock
from pytest_tutorial.isolation.clock_bridge import WorkerClock, state
from pytest_tutorial.isolation.describe import describe
from pytest_tutorial.isolation.errors import traceback_text
from pytest_tutorial.isolation.handles import Handle
from pytest_tutorial.isolation.learner_logs import relog
from pytest_tutorial.isolation.remote import Worker, WorkerGone
from pytest_tutorial.isolation.replay import record
from pytest_tutorial.isolation.worker_fixtures import _plain_extras
from pytest_tutorial.options import INI_ISOLATION, ISOLATION, TUTORIAL


def test_a_bad_isolation_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "exercises" / "caching").mkdir(parents=True)
    result = pytester.runpytest(f"{TUTORIAL}=caching", f"{ISOLATION}=sandbox")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--tutorial-isolation=sandbox is not valid" in result.stderr.str()
    assert "process | worker" in result.stderr.str()


def test_the_ini_key_is_read_too(pytester: pytest.Pytester) -> None:
    (pytester.path / "exercises" / "caching").mkdir(parents=True)
    pytester.makeini(f"[pytest]\n{INI_ISOLATION} = thread\n")
    result = pytester.runpytest(f"{TUTORIAL}=caching")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--tutorial-isolation=thread is not valid" in result.stderr.str()


class Service:
    """A learner's class: its name, docstring and signature cross as plain data."""

    def __init__(self, limit: int, *, timeout: float = 10.0, sleep: Any = print) -> None:
        self.limit = limit

    def get(self, key: str) -> str:
        """Get one key."""
        return key

    def put(self, key: str) -> None:
        """Put one key."""


def _handle(value: object, worker: Worker | None = None) -> Handle:
    return Handle(worker or Worker(), describe(value, 1))


def test_a_class_handle_has_the_learners_name_doc_and_signature() -> None:
    handle = _handle(Service)
    assert (handle.__name__, handle.__doc__) == ("Service", Service.__doc__)
    parameters = inspect.signature(handle).parameters
    assert list(parameters) == ["limit", "timeout", "sleep"]
    assert parameters["timeout"].default == 10.0
    assert parameters["timeout"].kind is inspect.Parameter.KEYWORD_ONLY
    assert repr(parameters["sleep"].default) == repr(print)  # not a plain value: its repr


def test_record_takes_one_call_per_request_without_sending_it() -> None:
    worker = Worker()  # never started: a request would fail with WorkerGone
    service = _handle(Service(1), worker)
    keys = iter(["a", "b", "c"])
    target, calls = record(lambda: service.get(next(keys)), 3)
    assert (target.handle, target.name, target.coroutine) == (1, "get", False)
    assert calls == [(("a",), {}), (("b",), {}), (("c",), {})]


def test_a_request_must_be_one_call_of_one_function() -> None:
    service = _handle(Service(1))
    with pytest.raises(TypeError, match="request 1 made 0"):
        record(lambda: None, 2)
    with pytest.raises(TypeError, match="request 1 made 2"):
        record(lambda: (service.get("a"), service.get("b")), 2)
    flip = iter([True, False])
    with pytest.raises(TypeError, match="the same function"):
        record(lambda: service.get("a") if next(flip) else service.put("a"), 2)
    with pytest.raises(WorkerGone):  # outside a recording, calls are sent again
        service.get("a")


def test_plain_extras_of_a_log_record_reach_the_check(caplog: pytest.LogCaptureFixture) -> None:
    record_ = logging.makeLogRecord({"msg": "done", "batch_metrics": {"items": 3}, "x": object()})
    extras = _plain_extras(record_)
    assert extras == {"batch_metrics": {"items": 3}}  # the object cannot cross: dropped
    with caplog.at_level(logging.INFO, logger="learner"):
        relog({"name": "learner", "level": logging.INFO, "message": "done", "extra": extras})
    assert [getattr(r, "batch_metrics", None) for r in caplog.records] == [{"items": 3}]


def test_the_workers_clock_reads_what_the_checks_clock_reads() -> None:
    clock = FakeClock()
    clock.freeze()
    clock.advance(30)
    copy = WorkerClock()
    copy.update(state(clock))
    assert (copy.monotonic(), copy.time()) == (clock.monotonic(), clock.time())
    changes: list[str] = []
    clock.on_change.append(lambda: changes.append("moved"))
    clock.advance(5)
    assert changes == ["moved"]


def test_only_a_workers_end_has_the_worker_status() -> None:
    assert worker_ended(WorkerGone("the worker process ended, exit status 3"))
    assert not worker_ended(RuntimeError("WorkerGone"))


def _chained() -> BaseException:
    def inner() -> int:
        table: dict[str, int] = {}
        found = table["missing"] + 1
        return found

    try:
        try:
            inner()
        except KeyError as error:
            raise ValueError("bad value") from error
    except ValueError:
        try:
            raise RuntimeError("while handling")
        except RuntimeError as outer:
            return outer
    raise AssertionError("unreachable")


def test_a_traceback_reads_as_pythons_without_the_column_markers() -> None:
    error = _chained()
    python = "".join(traceback.format_exception(error)).splitlines(keepends=True)
    markers = [line for line in python if line.strip() and not set(line.strip()) - set("^~")]
    assert markers  # Python marks the failing part of a line
    assert traceback_text(error) == "".join(line for line in python if line not in markers)
    assert "The above exception was the direct cause" in traceback_text(error)
    assert 'found = table["missing"] + 1' in traceback_text(error)


@pytest.mark.slow
def test_a_worker_started_ahead_serves_the_first_check_without_a_second_start(
    tmp_path: Path,
) -> None:
    from pytest_tutorial.isolation.solutions import SolutionWorkers
    from pytest_tutorial.model import SolutionContract

    (tmp_path / "mini.py").write_text("def clamp(value):\n    return value\n", encoding="utf-8")
    workers = SolutionWorkers(tmp_path)
    workers.prestart(tmp_path / "missing", "path")  # nothing to start: a check reports it
    workers.prestart(tmp_path, "path")
    try:
        solution = workers.load(tmp_path, "path", SolutionContract("mini", ("clamp",)))
        assert solution.module.clamp(3) == 3
        assert solution.worker is not None
        assert solution.worker.generation == 1
        assert list(workers._sides) == [tmp_path]
    finally:
        workers.close()
