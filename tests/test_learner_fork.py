"""The test runs' server forked by a job slot's warm server (pytest_tutorial.grading.learner_fork).

Without a sandbox and as the current user: what the fork keeps and drops, and that its
runs and its end work as a cold server's. The sandboxed path, under the slot's uid, is
graded in tests/test_grade_warm.py.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_tutorial import learner_layout, learner_tests
from pytest_tutorial.grading import sandbox
from pytest_tutorial.grading.learner_fork import (
    ForkedServer,
    _close_descriptors_but,
    fork_test_runs_server,
)
from pytest_tutorial.warm import NOTHING_COLLECTED, WarmServer, warm_imports

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
    warmup = [*learner_tests.pytest_arguments(folder, folder / "pytest.ini"), "--collect-only"]
    return {"imports": [learner_tests.RUNNER_MODULE], "pytest_warmup": warmup}


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": str(REPO)}


def test_the_forked_server_serves_runs_and_its_end_ends_it(slot: Path, tmp_path: Path) -> None:
    server = fork_test_runs_server(
        slot,
        _config(tmp_path / "empty"),
        warmed_up=(NOTHING_COLLECTED,),
        box=BOX,
        env=_environment(),
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
        env=_environment(),
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


def test_closing_all_descriptors_but_some_keeps_those() -> None:
    """An empty range must close nothing (``close_range`` would read it as every one)."""
    kept_read, kept_write = os.pipe()
    dropped_read, dropped_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 1
        try:
            _close_descriptors_but((0, 1, 2, kept_write))
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
