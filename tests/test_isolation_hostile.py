"""A hostile worker: what the learner's code can send the trusted side, and what it gets.

The worker runs the learner's code, so every byte it sends is the learner's. The most it
can do is give wrong answers to the checks' calls (which the checks judge like any other
answer): it cannot make the trusted side raise an exception that steers pytest or the
harness, flood it with log records, or be believed after it breaks the framing.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_tutorial.isolation import errors, protocol
from pytest_tutorial.isolation.callbacks import MAX_CALLBACKS
from pytest_tutorial.isolation.learner_logs import MAX_LOG_RECORDS
from pytest_tutorial.isolation.remote import Worker, WorkerGone

pytestmark = pytest.mark.slow

HOSTILE = '''
"""Learner code that attacks the channel from inside the worker."""

import json
import logging
import os
import struct
import sys

worker_module = sys.modules["__main__"]  # the worker runs as python -m ...
FD = int(sys.argv[-1])


def frame(message):
    data = json.dumps(message).encode()
    os.write(FD, struct.pack(">I", len(data)) + data)


class Looks:
    """Classes that claim to be the harness's or the interpreter's control flow."""


def claiming(module, qualname, bases=(Exception,)):
    kind = type(qualname.rpartition(".")[2], bases, {})
    kind.__module__ = module
    kind.__qualname__ = qualname
    return kind


def raise_as(module, qualname):
    raise claiming(module, qualname)("forged")


def raise_real_keyboard_interrupt():
    raise KeyboardInterrupt


def raise_stop_iteration():
    raise StopIteration


def huge():
    return "x" * (40 * 1024 * 1024)


def deep():
    value = []
    for _ in range(10_000):
        value = [value]
    return value


def flood(count):
    for number in range(count):
        frame({"op": "log", "name": "learner", "level": logging.WARNING, "message": str(number)})
    return "done"


def callback_flood(target, count):
    for number in range(count):
        frame({"id": 10_000 + number, "op": "callback", "target": target, "args": [], "kwargs": {}})
    return "done"


def lie_about_handles(description):
    worker_module.describe = lambda value, handle: description
    return object()


def garbage():
    os.write(FD, struct.pack(">I", 5) + b"{nope")
    return "never read"


def echo(value):
    return value
'''


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    (tmp_path / "hostile.py").write_text(textwrap.dedent(HOSTILE), encoding="utf-8")
    started = Worker(cwd=str(tmp_path))
    started.start()
    started.request(protocol.IMPORT, folder=str(tmp_path), module="hostile", exports=[])
    yield started
    started.stop()


def _call(worker: Worker, name: str, *args: object) -> object:
    module = worker.request(protocol.IMPORT, folder=worker.cwd, module="hostile", exports=[])
    return getattr(module, name)(*args)


@pytest.mark.parametrize(
    ("module", "qualname"),
    [
        ("builtins", "KeyboardInterrupt"),
        ("builtins", "SystemExit"),
        ("builtins", "GeneratorExit"),
        ("builtins", "StopIteration"),
        ("_pytest.outcomes", "Skipped"),
        ("_pytest.outcomes", "Exit"),
        ("_pytest.outcomes", "XFailed"),
        ("unittest.case", "SkipTest"),
        ("pytest_tutorial.timeouts", "CheckTimeout"),
        ("asyncio.exceptions", "CancelledError"),
    ],
)
def test_an_exception_cannot_claim_a_class_that_steers_the_harness(
    worker: Worker, module: str, qualname: str
) -> None:
    import _pytest.outcomes  # noqa: F401  (loaded, as in a real run)

    with pytest.raises(Exception) as raised:
        _call(worker, "raise_as", module, qualname)
    kind = type(raised.value)
    assert kind.__name__ == qualname.rpartition(".")[2]
    assert kind.__module__.startswith("worker:")
    assert issubclass(kind, Exception)
    assert not errors.steers_the_harness(kind)


def test_real_control_flow_exceptions_of_the_learner_arrive_as_stand_ins(worker: Worker) -> None:
    for name in ("raise_real_keyboard_interrupt", "raise_stop_iteration"):
        with pytest.raises(Exception) as raised:
            _call(worker, name)
        assert type(raised.value).__module__ == "worker:builtins"
    assert _call(worker, "echo", 1) == 1  # the worker still serves


def test_a_checks_own_exception_class_comes_back_as_itself(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import types

    checks = types.ModuleType("pytest_tutorial.tutorials.hostile.check_backend")

    class BackendDown(ConnectionError):
        """What a check's backend raises to the learner's code."""

    BackendDown.__module__ = checks.__name__
    checks.BackendDown = BackendDown  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, checks.__name__, checks)
    with pytest.raises(BackendDown):
        _call(worker, "raise_as", checks.__name__, "BackendDown")


def test_ordinary_exceptions_stay_the_real_classes(worker: Worker) -> None:
    with pytest.raises(ValueError, match="forged"):
        _call(worker, "raise_as", "builtins", "ValueError")
    with pytest.raises(TimeoutError):
        _call(worker, "raise_as", "builtins", "TimeoutError")


def test_a_value_too_big_or_too_deep_is_an_error_not_a_crash(worker: Worker) -> None:
    with pytest.raises(ValueError, match="cap"):
        _call(worker, "huge")
    with pytest.raises(ValueError, match="nested"):
        _call(worker, "deep")
    assert _call(worker, "echo", [1, {"a": (2, 3)}]) == [1, {"a": (2, 3)}]


def test_a_flood_of_log_records_is_bounded(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert _call(worker, "flood", MAX_LOG_RECORDS * 3) == "done"
    learner = [record for record in caplog.records if record.name == "learner"]
    assert len(learner) <= MAX_LOG_RECORDS + 1
    assert any("dropped" in record.getMessage() for record in caplog.records)


def test_a_flood_of_callback_requests_does_not_queue_without_bound(worker: Worker) -> None:
    import threading
    import time

    release = threading.Event()
    calls = []

    def slow() -> None:
        calls.append(1)
        release.wait(60)

    target = worker.register_callback(slow)["id"]
    try:
        # The flood's frames precede the reply on the channel: all are taken when it returns.
        assert _call(worker, "callback_flood", target, MAX_CALLBACKS * 20) == "done"
    finally:
        release.set()
    deadline = time.monotonic() + 60
    while worker.callbacks.queued and time.monotonic() < deadline:
        time.sleep(0.01)
    assert 0 < len(calls) <= MAX_CALLBACKS
    assert _call(worker, "echo", 3) == 3


@pytest.mark.parametrize(
    "description",
    [{"id": "not a number"}, {"id": 1, "methods": 7}, {"id": [1]}],
)
def test_a_description_out_of_shape_ends_the_channel_not_the_reader(
    worker: Worker, description: dict[str, object]
) -> None:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(_call, worker, "lie_about_handles", description)
        with pytest.raises((WorkerGone, ValueError, TypeError)):
            answer.result(timeout=30)  # a dead reader thread would leave it waiting for ever
    worker.start()
    assert _call(worker, "echo", 4) == 4


def test_a_broken_frame_ends_the_channel_for_good(worker: Worker) -> None:
    with pytest.raises(WorkerGone, match="not JSON"):
        _call(worker, "garbage")
    with pytest.raises(WorkerGone):
        _call(worker, "echo", 1)
    worker.start()  # a fresh worker serves the next check
    assert _call(worker, "echo", 2) == 2
