"""A worker process serves the learner's code; the trusted side sees handles and plain values."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import signal
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis

from pytest_tutorial.isolation import protocol, replay
from pytest_tutorial.isolation.handles import Handle
from pytest_tutorial.isolation.load_check import Observed, Tampered, Target, check, measure
from pytest_tutorial.isolation.redis_bridge import RedisBridge
from pytest_tutorial.isolation.remote import Worker, WorkerGone
from pytest_tutorial.redis_backend import InstrumentedRedis
from pytest_tutorial.solution import SolutionImportError

pytestmark = pytest.mark.slow

LEARNER = '''
"""A learner's module for the worker's tests."""

import asyncio
import logging
import os
import threading
import time

log = logging.getLogger("learner")


class NotFound(KeyError):
    """A key that is not there."""


class Service:
    """Does things the checks call."""

    def __init__(self, factor, compute=None, client=None):
        self.factor = factor
        self.compute = compute
        self.client = client
        self.peak = 0
        self._inside = 0
        self._lock = threading.Lock()
        self._all_in = threading.Barrier(5, timeout=30)

    def times(self, value):
        return value * self.factor

    def lookup(self, key):
        raise NotFound(key)

    def via(self, key):
        log.info("computing %s", key)
        return self.compute(key)

    def overlap(self):
        with self._lock:
            self._inside += 1
            self.peak = max(self.peak, self._inside)
        self._all_in.wait()  # five calls at once, or BrokenBarrierError after 30 s
        with self._lock:
            self._inside -= 1
        return self.peak

    async def later(self, value, sleep):
        await sleep(0.01)
        return {"value": value, "pair": (1, 2), "raw": b"x"}

    def pages(self):
        yield [1, 2]
        yield [3]

    def store(self, key, value):
        self.client.set(key, value)
        return self.client.get(key)

    def spin(self):
        while True:
            pass

    def die(self, signal_number=None):
        if signal_number is not None:
            os.kill(os.getpid(), signal_number)
            time.sleep(10)
        os._exit(7)


def equal_to_everything():
    class Anything:
        def __eq__(self, other):
            return True
    return Anything()


def await_in_a_thread(function):
    threading.Thread(target=lambda: asyncio.run(function("x")), daemon=True).start()


def call_back_later(seconds, function):
    def later():
        time.sleep(seconds)
        log.warning("calling back")
        function("later")
    threading.Thread(target=later).start()
'''


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "learner.py").write_text(textwrap.dedent(LEARNER), encoding="utf-8")
    return tmp_path


def _import(worker: Worker, folder: Path) -> Handle:
    module = worker.request(
        protocol.IMPORT, folder=str(folder), module="learner", exports=["Service"]
    )
    assert isinstance(module, Handle)
    return module


def test_calls_values_and_exceptions_cross(worker: Worker, folder: Path) -> None:
    module = _import(worker, folder)
    service = module.Service(3)
    assert repr(service) == "<learner.Service object in the worker>"
    assert service.times(4) == 12
    assert service.factor == 3
    with pytest.raises(module.NotFound) as raised:
        service.lookup("k")
    assert isinstance(raised.value, KeyError)
    assert raised.value.__tutorial_where__ == "learner.py:33"  # type: ignore[attr-defined]
    assert list(service.pages()) == [[1, 2], [3]]
    with pytest.raises(AttributeError, match="cannot use '_lock'"):
        service._lock  # noqa: B018


def test_the_worker_follows_the_checks_logging_disable(
    worker: Worker, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = _import(worker, folder).Service(1, compute=lambda key: key)
    with caplog.at_level(logging.INFO, logger="learner"):
        logging.disable(logging.CRITICAL)
        try:
            assert service.via("silenced") == "silenced"
        finally:
            logging.disable(logging.NOTSET)
        assert service.via("heard") == "heard"
    assert [record.getMessage() for record in caplog.records] == ["computing heard"]


def test_messages_between_calls_are_read_too(
    worker: Worker, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    module = _import(worker, folder)
    called = threading.Event()
    seen: list[str] = []

    def callback(value: str) -> None:
        seen.append(value)
        called.set()

    with caplog.at_level(logging.WARNING, logger="learner"):
        module.call_back_later(0.2, callback)  # after this call returns, nothing waits
        assert called.wait(10), "a callback of a thread of the learner's was never run"
    assert seen == ["later"]
    assert [record.getMessage() for record in caplog.records] == ["calling back"]
    assert module.Service(2).times(3) == 6  # and the next caller reads again


def test_a_coroutine_callback_left_waiting_is_cancelled_when_the_worker_stops(
    worker: Worker, folder: Path
) -> None:
    # Called back from a thread of the learner's (no check's loop runs): it runs in a pool
    # thread of the trusted side, which the interpreter's exit waits for.
    began, ended = threading.Event(), threading.Event()

    async def hangs(value: str) -> None:
        began.set()
        try:
            await asyncio.sleep(30)  # a check's handler that never answers, bounded here
        finally:
            ended.set()

    _import(worker, folder).await_in_a_thread(hangs)
    assert began.wait(10)
    worker.stop()
    assert ended.wait(5), "the callback still holds its thread after the worker stopped"


def test_callers_of_many_threads_each_get_their_own_answers(worker: Worker, folder: Path) -> None:
    service = _import(worker, folder).Service(3, compute=lambda key: key * 2)

    def calls(base: int) -> list[int]:
        return [service.times(base + n) + service.via(n) for n in range(150)]

    async def coroutines() -> list[object]:
        return [await service.later(n, asyncio.sleep) for n in range(30)]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = [pool.submit(calls, 1000 * thread) for thread in range(8)]
        later = asyncio.run(coroutines())
        for thread, answer in enumerate(answers):
            assert answer.result(timeout=60) == [
                3 * (1000 * thread + n) + 2 * n for n in range(150)
            ]
    assert [item["value"] for item in later] == list(range(30))  # type: ignore[index]


def test_equality_of_a_learner_object_is_identity(worker: Worker, folder: Path) -> None:
    anything = _import(worker, folder).equal_to_everything()
    assert anything != 1
    assert anything != anything.__class__


def test_callbacks_and_coroutines_and_logs(
    worker: Worker, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = _import(worker, folder).Service(1, compute=lambda key: {"computed": key})
    with caplog.at_level(logging.INFO, logger="learner"):
        assert service.via("k") == {"computed": "k"}
        deadline = time.monotonic() + 5
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.01)
    assert [record.getMessage() for record in caplog.records] == ["computing k"]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> object:
        return await service.later(5, sleep)

    assert asyncio.run(main()) == {"value": 5, "pair": (1, 2), "raw": b"x"}
    assert slept == [0.01]


def test_calls_from_several_threads_run_at_once(worker: Worker, folder: Path) -> None:
    """Each call waits in the worker until all five are inside: only concurrent calls end."""
    service = _import(worker, folder).Service(1)
    peaks: list[object] = []

    def call() -> None:
        try:
            peaks.append(service.overlap())
        except Exception as error:  # the barrier broke: the calls did not overlap
            peaks.append(error)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peaks == [5] * 5
    assert service.peak == 5


def test_an_import_failure_is_the_learners_error(worker: Worker, folder: Path) -> None:
    (folder / "learner.py").write_text("def broken(:\n", encoding="utf-8")
    with pytest.raises(SolutionImportError, match=r"learner.py:1: SyntaxError"):
        _import(worker, folder)


def test_a_worker_that_dies_fails_the_call_and_later_ones(worker: Worker, folder: Path) -> None:
    service = _import(worker, folder).Service(1)
    with pytest.raises(WorkerGone, match="exited with status 7"):
        service.die()
    with pytest.raises(WorkerGone):
        service.times(1)


def test_the_import_runs_on_the_main_thread_so_signal_handlers_can_be_set(
    worker: Worker, folder: Path
) -> None:
    """As in a run in one process: module-level code may install a signal handler."""
    (folder / "learner.py").write_text(
        "import signal, threading\n"
        "signal.signal(signal.SIGUSR1, signal.SIG_IGN)\n"
        "IMPORTED_ON = threading.current_thread() is threading.main_thread()\n"
        "class Service:\n"
        "    pass\n",
        encoding="utf-8",
    )
    assert _import(worker, folder).IMPORTED_ON is True


def test_a_worker_killed_by_a_signal_is_named(worker: Worker, folder: Path) -> None:
    service = _import(worker, folder).Service(1)
    with pytest.raises(WorkerGone, match="it was killed by SIGTERM"):
        service.die(signal.SIGTERM)


def test_an_interrupted_call_ends_the_worker(worker: Worker, folder: Path) -> None:
    service = _import(worker, folder).Service(1)

    def time_limit(signum: int, frame: object) -> None:
        raise TimeoutError("the check's time limit")

    previous = signal.signal(signal.SIGALRM, time_limit)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(TimeoutError, match="time limit"):
            service.spin()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert worker.gone is not None
    assert worker.exit_status() is None  # stopped and reaped by the trusted side
    worker.start()
    assert _import(worker, folder).Service(2).times(2) == 4


def test_a_fake_redis_client_crosses_as_a_socket_with_counts_and_faults(
    folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    bridge = RedisBridge(tmp_path_factory.mktemp("sockets"))
    worker = Worker(cwd=str(folder))
    worker.adapters.append(bridge.adapt)
    worker.start()
    try:
        server = fakeredis.FakeServer()
        client = InstrumentedRedis(server=server)
        service = _import(worker, folder).Service(1, client=client)
        assert service.store("k", "v") == b"v"
        assert fakeredis.FakeRedis(server=server).get("k") == b"v"
        assert dict(client.commands) == {"SET": 1, "GET": 1}
        client.fail("GET", redis.exceptions.TimeoutError("Timeout reading from socket"))
        with pytest.raises(redis.exceptions.TimeoutError, match="Timeout reading"):
            service.store("k", "w")
    finally:
        worker.stop()
        bridge.close()


def test_a_load_test_runs_in_the_worker_and_a_patched_clock_is_caught(
    worker: Worker, folder: Path
) -> None:
    service = _import(worker, folder).Service(2)
    calls: list[tuple[tuple[int], dict[str, object]]] = [((n,), {}) for n in range(10)]
    target = Target.of(service.times)
    overhead = measure(target.noop(), calls, requests=100, concurrency=10, warmup=5)
    observed = measure(target, calls, requests=100, concurrency=10, warmup=5)
    check(observed, overhead)
    assert observed.result.requests == len(observed.result.latencies_ns) == 100
    assert len(observed.result.per_worker_ns) == 10
    forged = type(observed)(observed.result, overhead.outside_s + 1.0)
    with pytest.raises(Tampered, match="tampered"):
        check(forged, overhead)


CHEAT = """
import time


class Slow:
    def __init__(self):
        time.perf_counter_ns = lambda: 0  # every latency the worker reports is 0

    def read(self, key):
        time.sleep(0.005)
        return key
"""


def test_a_load_test_is_measured_again_after_a_stall_but_a_patched_clock_is_caught(
    worker: Worker, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _import(worker, folder).Service(3)
    real_measure = measure
    stalled: list[Observed] = []

    def one_stall(target: Target, calls: Any, **sizes: int) -> Observed:
        observed = real_measure(target, calls, **sizes)
        if target.name == "times" and not stalled:  # the machine stalls once, for a second
            stalled.append(observed)
            return Observed(observed.result, observed.outside_s + 1.0)
        return observed

    monkeypatch.setattr(replay, "measure", one_stall)
    result = replay.ReplayedSide(lambda: service.times(2)).measure(100, 10, 5)
    assert len(stalled) == 1
    assert result.requests == 100
    monkeypatch.setattr(replay, "measure", real_measure)

    (folder / "cheat.py").write_text(CHEAT, encoding="utf-8")
    cheat = worker.request(protocol.IMPORT, folder=str(folder), module="cheat", exports=["Slow"])
    slow = cheat.Slow()
    side = replay.ReplayedSide(lambda: slow.read("k"))
    with pytest.raises(Tampered, match="tampered"):
        # about 500 ms of sleeps reported as none, three times over: well beyond what a
        # loaded machine adds to the harness's own time (allowed twice over, plus 50 ms)
        side.measure(200, 2, 0)


AWS_LEARNER = '''
"""A learner's module that uses S3."""


class Store:
    """Stores bodies in S3."""

    def __init__(self, s3):
        self.s3 = s3

    def put(self, key, body):
        self.s3.put_object(Bucket="docs-bucket", Key=key, Body=body)
        return self.s3.get_object(Bucket="docs-bucket", Key=key)["Body"].read()

    def missing(self, key):
        try:
            self.s3.get_object(Bucket="docs-bucket", Key=key)
        except self.s3.exceptions.NoSuchKey as error:
            return error.response["Error"]["Code"]
        return None

    def keys(self):
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket="docs-bucket")
        return [entry["Key"] for page in pages for entry in page.get("Contents", [])]
'''


def test_an_aws_client_crosses_as_forwarded_api_calls(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from moto import mock_aws

    from pytest_tutorial.isolation.aws_bridge import AwsBridge

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    (folder / "store.py").write_text(textwrap.dedent(AWS_LEARNER), encoding="utf-8")
    worker = Worker(cwd=str(folder))
    worker.adapters.append(AwsBridge(worker.register_callback).adapt)
    worker.start()
    try:
        with mock_aws():
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket="docs-bucket")
            seen: list[str] = []
            s3.meta.events.register("before-call", lambda model, **_: seen.append(model.name))
            module = worker.request(
                protocol.IMPORT, folder=str(folder), module="store", exports=["Store"]
            )
            store = module.Store(s3)
            assert store.put("k", b"hello") == b"hello"
            assert store.missing("absent") == "NoSuchKey"
            assert store.keys() == ["k"]
            assert seen == ["PutObject", "GetObject", "GetObject", "ListObjectsV2"]
    finally:
        worker.stop()


def test_a_client_crossing_again_is_the_same_worker_client(folder: Path) -> None:
    """A property crosses the check's clients once per example; a worker client made each
    time cost 2.5 to 5.5 ms of the worker's CPU, more than the call it then made."""
    import boto3

    from pytest_tutorial.isolation.aws_bridge import AwsBridge

    (folder / "kept.py").write_text(
        "SEEN = []\n\n\ndef distinct(client):\n"
        "    SEEN.append(client)\n    return len({id(seen) for seen in SEEN})\n",
        encoding="utf-8",
    )
    worker = Worker(cwd=str(folder))
    worker.adapters.append(AwsBridge(worker.register_callback).adapt)
    worker.start()
    try:
        module = worker.request(protocol.IMPORT, folder=str(folder), module="kept", exports=[])
        s3 = boto3.client("s3", region_name="us-east-1")
        assert [module.distinct(s3) for _ in range(3)] == [1, 1, 1]
        assert module.distinct(boto3.client("s3", region_name="us-east-1")) == 2
        assert module.distinct(s3) == 2
    finally:
        worker.stop()


def test_a_stepped_clock_is_read_in_the_worker_to_the_bit(folder: Path) -> None:
    """A check's own clock crossed as a callback: a round trip a reading, and one inside
    every timed request of a load test that reads the clock."""
    from pytest_tutorial import SteppedClock
    from pytest_tutorial.isolation.clock_bridge import ClockBridge

    epoch = 1_800_000_000.0

    class Counted(SteppedClock):
        def __init__(self) -> None:
            super().__init__()
            self.elapsed_ms = 0
            self.reads = 0

        @property
        def now(self) -> float:
            self.reads += 1
            return epoch + self.elapsed_ms / 1000

        def advance_ms(self, milliseconds: int) -> None:
            self.elapsed_ms += milliseconds
            self.changed()

    (folder / "reader.py").write_text(
        "def readings(clock, n):\n    return [clock() for _ in range(n)]\n", encoding="utf-8"
    )
    worker = Worker(cwd=str(folder))
    worker.adapters.append(ClockBridge(worker).adapt)
    worker.start()
    try:
        module = worker.request(protocol.IMPORT, folder=str(folder), module="reader", exports=[])
        clock = Counted()
        assert module.readings(clock, 50) == [epoch] * 50
        clock.advance_ms(1)
        assert module.readings(clock, 2) == [epoch + 1 / 1000] * 2
        assert clock.reads <= 3  # its state when it crossed, twice, and when it moved
    finally:
        worker.stop()


def test_the_workers_aws_clients_share_one_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new boto3 session per crossing reread the service models: 85 ms a client."""
    import boto3

    from pytest_tutorial.isolation import aws_bridge

    made: list[object] = []
    real = boto3.session.Session

    def counted() -> object:
        made.append(object())
        return real()

    monkeypatch.setattr(aws_bridge, "_session", None)
    monkeypatch.setattr(boto3.session, "Session", counted)
    payload = {"service": "s3", "region": "eu-west-1"}
    first = aws_bridge.worker_client(payload, lambda *_: {})
    second = aws_bridge.worker_client({**payload, "service": "dynamodb"}, lambda *_: {})
    assert len(made) == 1
    assert first.meta.region_name == second.meta.region_name == "eu-west-1"
    assert second.meta.service_model.service_name == "dynamodb"


def test_an_interruption_while_the_caller_reads_its_own_answer_is_named(folder: Path) -> None:
    """A time limit that lands while the waiting caller reads the channel itself (the usual
    case for a caller alone) is kept as the worker's interruption, so the check reads as a
    timeout whatever hypothesis makes of the examples that follow."""
    (folder / "slow.py").write_text("import time\n\n\ndef nap():\n    time.sleep(30)\n")
    worker = Worker(cwd=str(folder))
    worker.start()

    class Interrupted(Exception):
        pass

    def interrupt(*_: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        module = worker.request(protocol.IMPORT, folder=str(folder), module="slow", exports=["nap"])
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(Interrupted):
            module.nap()
        assert isinstance(worker.interrupted_by, Interrupted)
        assert worker.gone is not None
        assert "(Interrupted)" in worker.gone
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        worker.stop()
