"""The test runs' server and the worker forked by a job slot's warm server (learner_fork).

Without a sandbox and as the current user: what the fork keeps and drops, and that its
runs, calls and end work as a cold one's. The sandboxed path, under the slot's uid, is
graded in tests/test_grade_warm.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_tutorial import learner_layout, learner_tests
from pytest_tutorial.grading import sandbox
from pytest_tutorial.grading.learner_fork import ForkedServer, fork_test_runs_server, fork_worker
from pytest_tutorial.isolation import protocol
from pytest_tutorial.isolation.forked_worker import ForkedWorker, close_descriptors_but
from pytest_tutorial.isolation.handles import Handle
from pytest_tutorial.isolation.remote import Worker, WorkerGone
from pytest_tutorial.warm import NOTHING_COLLECTED, WarmServer, warm_imports
from tests.conftest import facts_of_each, worker_facts

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
TARGETS = "tests.warm_targets"
BOX = {"limits": sandbox.Limits(memory_mb=4096).to_json(), "uid": None}


@pytest.fixture
def slot(tmp_path: Path) -> Iterator[Path]:
    """A slot-like warm server listening on a socket; its path."""
    path = tmp_path / "slot.sock"
    server = WarmServer.start(warm_imports(aws=False), cwd=REPO, listen=path)
    assert server is not None
    try:
        yield path
    finally:
        server.close()


def _config(folder: Path) -> dict[str, object]:
    """The test runs' server's imports and warm-up, as learner_tests makes them."""
    folder.mkdir()
    (folder / "pytest.ini").write_text(learner_tests.INI, encoding="utf-8")
    (folder / learner_layout.TESTS_FOLDER).mkdir()
    warmup = learner_tests.warm_up_arguments(folder)
    return {"imports": [learner_tests.RUNNER_MODULE], "pytest_warmup": warmup}


def _environment(folder: Path) -> dict[str, str]:
    """A learner process's environment, its temporary folder under ``folder``.

    A forked server makes its scratch folder there, and one killed when its client goes
    has no clean-up of its own: in grading that folder is in the slot's sandbox, which is
    emptied; here it is the test's, not ``/tmp``.
    """
    temporary = folder / "learner-tmp"
    temporary.mkdir(exist_ok=True)
    return {
        **os.environ,
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONPATH": str(REPO),
        "TMPDIR": str(temporary),
    }


def test_the_forked_server_serves_runs_and_its_end_ends_it(slot: Path, tmp_path: Path) -> None:
    server = fork_test_runs_server(
        slot,
        _config(tmp_path / "empty"),
        warmed_up=(NOTHING_COLLECTED,),
        box=BOX,
        env=_environment(tmp_path),
        cwd=REPO,
    )
    assert isinstance(server, ForkedServer)
    result = tmp_path / "descriptors.json"
    try:
        answer = server.run(
            f"{TARGETS}:report_descriptors",
            {"result": str(result)},
            output=tmp_path / "output",
            timeout_s=60,
        )
        assert answer.exit_code == 0, (tmp_path / "output").read_text(encoding="utf-8")
        record = json.loads(result.read_text(encoding="utf-8"))
        # the run's server holds the slot's socket no more than the run does
        assert not [link for link in record["held"] if link.startswith("socket:")]
        forked = _pid_of_parent_of_runs(server, tmp_path)
    finally:
        server.close()
    assert _gone_within(forked, 10)


def test_a_warm_up_that_fails_gives_none_and_leaves_nothing(slot: Path, tmp_path: Path) -> None:
    before = _children_of_slot(slot)
    server = fork_test_runs_server(
        slot,
        _config(tmp_path / "empty"),
        warmed_up=(0,),  # a warm-up that collects nothing ends with 5
        box=BOX,
        env=_environment(tmp_path),
        cwd=REPO,
    )
    assert server is None
    deadline = time.monotonic() + 10
    while _children_of_slot(slot) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _children_of_slot(slot) == before


def test_no_slot_server_gives_none(tmp_path: Path) -> None:
    config = _config(tmp_path / "empty")
    absent = tmp_path / "absent.sock"
    assert (
        fork_test_runs_server(
            absent, config, warmed_up=(NOTHING_COLLECTED,), box=BOX, env={}, cwd=REPO
        )
        is None
    )


FACTS = '''
"""What a worker's process looks like to the learner's code."""
import logging, os, random, sys


def facts():
    return {
        "pid": os.getpid(),
        "parent": os.getppid(),
        "draw": random.random(),
        "argv": sys.argv,
        "handlers": len(logging.getLogger().handlers),
        "storage": os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"),
        "cwd": os.getcwd(),
    }


def leave():
    os._exit(7)
'''


def _forking_worker(slot: Path, folder: Path) -> Worker:
    """A worker forked by ``slot``'s server, as a grader's launcher makes one."""

    def fork(channel: socket.socket) -> ForkedWorker | None:
        return fork_worker(slot, channel, box=BOX, env=_environment(folder), cwd=folder)

    return Worker(cwd=str(folder), fork=fork)


def test_a_forked_worker_serves_the_learners_code_as_a_new_one_would(
    slot: Path, tmp_path: Path
) -> None:
    (tmp_path / "facts.py").write_text(textwrap.dedent(FACTS), encoding="utf-8")
    workers = [_forking_worker(slot, tmp_path) for _ in range(2)]
    workers.append(Worker(cwd=str(tmp_path), env=_environment(tmp_path)))  # started as a child
    first, second, cold = facts_of_each(workers, tmp_path)
    assert cold["parent"] == os.getpid()
    slot_pid = _slot_pid(slot)
    for found in (first, second):
        assert found["parent"] == slot_pid  # forked by the slot's server, not started here
        for name in ("handlers", "storage", "cwd"):
            assert found[name] == cold[name], name
        assert found["argv"][0] == cold["argv"][0]
    assert first["pid"] != second["pid"]
    assert first["draw"] != second["draw"]  # each fork seeded afresh
    assert all(_gone_within(int(found["pid"]), 10) for found in (first, second))


def test_a_forked_worker_that_ends_is_described_and_started_again(
    slot: Path, tmp_path: Path
) -> None:
    (tmp_path / "facts.py").write_text(textwrap.dedent(FACTS), encoding="utf-8")
    worker = _forking_worker(slot, tmp_path)
    worker.start()
    try:
        module = worker.request(protocol.IMPORT, folder=str(tmp_path), module="facts", exports=[])
        assert isinstance(module, Handle)
        with pytest.raises(WorkerGone) as gone:
            module.leave()
        assert "exited with status 7" in str(gone.value)
        assert worker.exit_status() == 7
        worker.start()  # a new generation, forked again
        assert worker_facts(worker, tmp_path)["parent"] == _slot_pid(slot)
        pid = worker.process.pid if worker.process is not None else None
    finally:
        worker.stop()
    assert pid is not None
    assert _gone_within(pid, 10)


def test_a_forked_worker_killed_by_a_signal_says_so(slot: Path, tmp_path: Path) -> None:
    (tmp_path / "facts.py").write_text(textwrap.dedent(FACTS), encoding="utf-8")
    worker = _forking_worker(slot, tmp_path)
    worker.start()
    try:
        pid = int(worker_facts(worker, tmp_path)["pid"])
        assert worker.process is not None
        assert worker.process.pid == pid
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while worker.gone is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert worker.gone is not None
        assert "killed by SIGTERM" in worker.gone
    finally:
        worker.stop()


def test_stopping_a_forked_worker_kills_it_and_has_it_reaped(slot: Path, tmp_path: Path) -> None:
    """Its end is the server's ``wait4`` of it (with its CPU time), not a guess.

    Killed, or, having seen its channel close, exited: either way reaped before ``stop``
    returns.
    """
    (tmp_path / "facts.py").write_text(textwrap.dedent(FACTS), encoding="utf-8")
    worker = _forking_worker(slot, tmp_path)
    worker.start()
    process = worker.process
    assert isinstance(process, ForkedWorker)
    worker_facts(worker, tmp_path)
    worker.stop()
    end = process.reap(within_s=0)
    assert end.returncode in (0, -signal.SIGKILL)  # it may see its channel close first
    assert end.cpu_s > 0
    assert _gone_within(process.pid, 5)


def test_a_worker_is_forked_while_sys_stdout_has_no_descriptor(
    slot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under ``capsys`` (pytest's capture by ``sys``) ``sys.stdout`` is a buffer in memory."""
    (tmp_path / "facts.py").write_text(textwrap.dedent(FACTS), encoding="utf-8")
    worker = _forking_worker(slot, tmp_path)
    worker.start()
    try:
        assert worker_facts(worker, tmp_path)["parent"] == _slot_pid(slot)
    finally:
        worker.stop()


def test_without_a_slot_server_the_worker_starts_as_a_child(tmp_path: Path) -> None:
    (tmp_path / "facts.py").write_text(textwrap.dedent(FACTS), encoding="utf-8")
    worker = _forking_worker(tmp_path / "absent.sock", tmp_path)
    worker.start()
    try:
        assert worker_facts(worker, tmp_path)["parent"] == os.getpid()
    finally:
        worker.stop()


def _slot_pid(slot: Path) -> int:
    """The slot-like server's pid: the one process whose command line names its socket
    and whose parent does not."""
    found = _children_of_slot(slot)
    roots = [pid for pid in found if _parent(pid) not in found]
    assert len(roots) == 1, roots
    return roots[0]


def _parent(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))


def test_closing_all_descriptors_but_some_keeps_those() -> None:
    """An empty range must close nothing (``close_range`` would read it as every one)."""
    kept_read, kept_write = os.pipe()
    dropped_read, dropped_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 1
        try:
            close_descriptors_but((0, 1, 2, kept_write))
            os.write(kept_write, b"kept")
            try:
                os.fstat(dropped_write)
            except OSError:
                status = 0
        finally:
            os._exit(status)
    os.close(kept_write)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert os.read(kept_read, 10) == b"kept"
    for fd in (kept_read, dropped_read, dropped_write):
        os.close(fd)


def _pid_of_parent_of_runs(server: WarmServer, folder: Path) -> int:
    """The forked server's pid: the parent of one of its runs."""
    answer = server.run(
        f"{TARGETS}:print_parent",
        "",
        output=folder / "parent",
        timeout_s=60,
    )
    assert answer.exit_code == 0
    return int((folder / "parent").read_text(encoding="utf-8").split()[-1])


def _children_of_slot(slot: Path) -> set[int]:
    """Processes whose command line is the slot server's (it and what it forked)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(slot).encode() in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            return True
        if state in "ZX":
            return True
        time.sleep(0.05)
    return False
