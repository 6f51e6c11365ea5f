"""A learner process started through a LearnerBox: sandboxed, limited, its own uid."""

from __future__ import annotations

import os
import shutil
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_tutorial.discovery import BUNDLED_ROOT
from pytest_tutorial.grading import sandbox, uids
from pytest_tutorial.grading.learner_box import LearnerBox
from pytest_tutorial.isolation import protocol
from pytest_tutorial.isolation.remote import Worker, WorkerGone
from tests.conftest import REPO

PROBE = '''
"""What a learner's code can see and do from inside its process."""

import os
import resource
import socket


def uid():
    return os.geteuid()


def exists(path):
    return os.path.exists(path)


def connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except OSError as error:
        return type(error).__name__
    return "connected"


def limit(name):
    return list(resource.getrlimit(getattr(resource, name)))


def write(path):
    try:
        with open(path, "w") as handle:
            handle.write("x")
    except OSError as error:
        return type(error).__name__
    return "written"


def environment(name):
    return os.environ.get(name)


def spin():
    while True:
        pass
'''
LIMITS = sandbox.Limits(cpu_s=60, memory_mb=1024, open_files=128, processes=64)


@pytest.fixture
def solution(tmp_path: Path) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "probe.py").write_text(textwrap.dedent(PROBE), encoding="utf-8")
    return folder


@pytest.fixture
def lease() -> Iterator[uids.UidLease | None]:
    held = uids.lease(1) if os.geteuid() == 0 else None
    yield held
    if held is not None:
        held.release()


def _started(box: LearnerBox, folder: Path) -> Worker:
    box.give(folder)
    worker = Worker(prefix=box.prefix(folder), env=box.environment(), cwd=str(folder))
    worker.start()
    return worker


def _probe(worker: Worker, folder: Path) -> object:
    return worker.request(protocol.IMPORT, folder=str(folder), module="probe", exports=["uid"])


def test_the_prefix_enters_the_limits_and_uid_after_bubblewrap(tmp_path: Path) -> None:
    box = LearnerBox(LIMITS, bwrap="bwrap", uid=64999, hidden=(BUNDLED_ROOT,), shared=(tmp_path,))
    prefix = box.prefix(tmp_path)
    end_of_bwrap = prefix.index("--")
    bwrap, enter = prefix[:end_of_bwrap], prefix[end_of_bwrap + 1 :]
    assert {"--unshare-net", "--unshare-pid", "--die-with-parent"} <= set(bwrap)
    assert ["--bind", str(tmp_path), str(tmp_path)] == bwrap[bwrap.index("--bind") :][:3]
    assert bwrap[bwrap.index("--tmpfs", bwrap.index(str(BUNDLED_ROOT)) - 2) + 1] == str(
        BUNDLED_ROOT
    )
    assert enter[enter.index("-m") + 1] == "pytest_tutorial.grading.enter"
    assert enter[enter.index("--uid") + 1] == "64999"
    assert sandbox.Limits.from_json(enter[enter.index("--limits") + 1]) == LIMITS
    assert enter[-1] == "--"


def test_the_environment_carries_nothing_of_the_graders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "secret")
    env = LearnerBox(LIMITS, bwrap="bwrap", marker="run-7").environment()
    assert "GITHUB_TOKEN" not in env
    assert env[sandbox.MARKER_VARIABLE] == "run-7"
    assert env["HOME"] == env["TMPDIR"] == "/tmp"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_learner_code_runs_contained_as_its_own_uid(
    solution: Path, lease: uids.UidLease | None, tmp_path: Path
) -> None:
    uid = lease.uids[0] if lease is not None else None
    bwrap = shutil.which("bwrap")
    box = LearnerBox(LIMITS, bwrap=bwrap, uid=uid, hidden=(BUNDLED_ROOT,), shared=(solution,))
    listener = socket.create_server(("127.0.0.1", 0))
    worker = _started(box, solution)
    try:
        probe: object = _probe(worker, solution)
        if uid is not None:
            assert probe.uid() == uid  # type: ignore[attr-defined]
        assert probe.connect(listener.getsockname()[1]) != "connected"  # type: ignore[attr-defined]
        assert not probe.exists(str(BUNDLED_ROOT / "caching" / "check_core.py"))  # type: ignore[attr-defined]
        assert not probe.exists(str(REPO / "reference_solutions"))  # type: ignore[attr-defined]
        assert not probe.exists(str(tmp_path / "elsewhere"))  # type: ignore[attr-defined]
        assert probe.write(str(solution / "notes.txt")) == "written"  # type: ignore[attr-defined]
        package = Path(sandbox.__file__).parent
        assert probe.write(str(package / "planted.py")) != "written"  # type: ignore[attr-defined]
        assert probe.limit("RLIMIT_AS") == [1024 * sandbox.MiB] * 2  # type: ignore[attr-defined]
        assert probe.limit("RLIMIT_NOFILE") == [128, 128]  # type: ignore[attr-defined]
        assert probe.environment("HOME") == "/tmp"  # type: ignore[attr-defined]
    finally:
        worker.stop()
        listener.close()
    assert not (package / "planted.py").exists()


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to a uid of its own needs root")
def test_without_bubblewrap_the_limits_and_the_uid_still_hold(
    solution: Path, lease: uids.UidLease | None
) -> None:
    assert lease is not None
    if not sandbox.interpreter_reachable(lease.uids[0]):
        pytest.skip("this interpreter is not readable by other users (grade then keeps root)")
    box = LearnerBox(LIMITS, uid=lease.uids[0], shared=(solution,))
    worker = _started(box, solution)
    try:
        probe: object = _probe(worker, solution)
        assert probe.uid() == lease.uids[0]  # type: ignore[attr-defined]
        assert probe.limit("RLIMIT_NPROC") == [64, 64]  # type: ignore[attr-defined]
        assert probe.write("/root/planted") != "written"  # type: ignore[attr-defined]
    finally:
        worker.stop()


@pytest.mark.slow
def test_a_limit_that_ends_a_learner_process_is_named(solution: Path) -> None:
    """The check that was running says which limit ended the worker, with its figures."""
    box = LearnerBox(sandbox.Limits(cpu_s=1, memory_mb=1024), shared=(solution,))
    worker = Worker(
        prefix=box.prefix(solution),
        env=box.environment(),
        cwd=str(solution),
        describe_exit=box.describe_exit,
    )
    worker.start()
    try:
        probe: object = _probe(worker, solution)
        with pytest.raises(WorkerGone) as gone:
            probe.spin()  # type: ignore[attr-defined]
    finally:
        worker.stop()
    assert "killed by SIGXCPU: the RLIMIT_CPU soft limit (1 s of CPU per process" in str(gone.value)
    assert "peak RSS" in str(gone.value)
