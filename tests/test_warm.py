"""The warm fork server: every child starts clean, has its limit, and several run at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pytest_tutorial.warm import (
    NOTHING_COLLECTED,
    SCRATCH_PREFIX,
    ServerGone,
    WarmServer,
    warm_imports,
)
from tests.warm_targets import recorded

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
TARGETS = "tests.warm_targets"
WAIT_S = 60.0


@pytest.fixture
def server() -> Iterator[WarmServer]:
    started = WarmServer.start(warm_imports(aws=False), cwd=REPO)
    assert started is not None
    try:
        yield started
    finally:
        started.close()


def test_a_run_never_sees_what_an_earlier_run_left_behind(
    server: WarmServer, tmp_path: Path
) -> None:
    learner = tmp_path / "learner"
    learner.mkdir()
    (learner / "learner_module.py").write_text("COUNT = 0\n", encoding="utf-8")
    seen = []
    for number in (1, 2):
        record = tmp_path / f"record-{number}.json"
        result = server.run(
            f"{TARGETS}:leave_state_behind",
            {"learner": str(learner), "record": str(record)},
            output=tmp_path / f"out-{number}",
            timeout_s=WAIT_S,
            cwd=tmp_path,
            env={"WARM_TEST_VARIABLE": str(number)},
        )
        assert result.exit_code == 0, (tmp_path / f"out-{number}").read_text()
        seen.append(json.loads(record.read_text(encoding="utf-8")))
    first, second = seen
    assert second["count"] == 1  # the module counter starts afresh
    assert not second["learner_module_loaded"]
    assert second["redis_value"] is None  # a fresh fake Redis
    assert second["storage_files"] == []  # a fresh hypothesis database
    assert first["storage"] != second["storage"]
    assert not Path(first["storage"]).exists()  # removed after its run
    assert [s["cwd"] for s in seen] == [str(tmp_path)] * 2
    assert [s["variable"] for s in seen] == ["1", "2"]


def test_runs_fork_concurrently_and_each_reports_its_exit_code(
    server: WarmServer, tmp_path: Path
) -> None:
    release = tmp_path / "release"

    def run(number: int) -> int | None:
        payload = {"started": str(tmp_path / f"started-{number}"), "release": str(release)}
        return server.run(
            f"{TARGETS}:wait_for_file", payload, output=tmp_path / f"out-{number}", timeout_s=WAIT_S
        ).exit_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(run, number) for number in (1, 2)]
        both = threading.Event()
        for _ in range(int(WAIT_S * 100)):
            if all((tmp_path / f"started-{n}").exists() for n in (1, 2)):
                both.set()
                break
            both.wait(0.01)
        release.touch()
        codes = [future.result() for future in futures]
    assert both.is_set()  # both were running before either could end
    assert codes == [7, 7]


def test_a_run_past_its_limit_is_killed_with_its_group(server: WarmServer, tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild"
    result = server.run(
        f"{TARGETS}:hang_with_a_grandchild",
        {"pid_file": str(pid_file)},
        output=tmp_path / "out",
        timeout_s=1.0,
    )
    assert result.timed_out
    grandchild = int(pid_file.read_text(encoding="utf-8"))
    assert _ends_within(grandchild, WAIT_S)
    # the server still serves
    assert server.run(f"{TARGETS}:print_and_exit", "x", output=tmp_path / "o", timeout_s=WAIT_S)


def _ends_within(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` is gone (or a zombie) within ``seconds``."""
    for _ in range(int(seconds * 100)):
        if not _running(pid):
            return True
        time.sleep(0.01)
    return not _running(pid)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a killed one may stay a zombie until reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def test_output_goes_to_the_file_and_system_exit_is_the_exit_code(
    server: WarmServer, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    result = server.run(f"{TARGETS}:print_and_exit", "hello", output=output, timeout_s=WAIT_S)
    assert result.exit_code == 5
    assert output.read_text(encoding="utf-8").splitlines() == ["out: hello", "err: hello"]


def test_a_pytest_run_forks_with_pytest_already_imported(
    server: WarmServer, tmp_path: Path
) -> None:
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert 1 == 2\n")
    output = tmp_path / "out"
    result = server.pytest(
        ["-q", "-p", "no:cacheprovider", "test_one.py"],
        output=output,
        timeout_s=WAIT_S,
        cwd=tmp_path,
    )
    assert result.exit_code == 1
    assert "1 failed" in output.read_text(encoding="utf-8")


def test_the_warm_up_run_ends_with_the_imports_frozen(tmp_path: Path) -> None:
    """pytest collects garbage five times as a run ends: the warm-up run's collections skip
    what the server imported (frozen first), not only the runs forked after it."""
    from tests.warm_targets import FROZEN_RECORD_VARIABLE

    record, empty = tmp_path / "frozen", tmp_path / "empty"
    empty.mkdir()
    started = WarmServer.start(
        warm_imports(aws=False),
        pytest_warmup=["-p", TARGETS, "-p", "no:cacheprovider", "--collect-only", str(empty)],
        warmed_up=(NOTHING_COLLECTED,),
        warmup_env={FROZEN_RECORD_VARIABLE: str(record)},
        cwd=REPO,
    )
    assert started is not None
    started.close()
    # pytest, hypothesis and fakeredis alone are some 60,000 objects
    assert int(record.read_text(encoding="utf-8")) > 30_000


def test_further_warm_up_runs_follow_with_their_own_environment_only(tmp_path: Path) -> None:
    """A server that will fork other servers pays their runs' first-use costs too: each
    further warm-up run is made, with its environment set during that run alone."""
    from tests.warm_targets import FROZEN_RECORD_VARIABLE

    first, further = tmp_path / "first", tmp_path / "further"
    empty = tmp_path / "empty"
    empty.mkdir()
    run = ["-p", TARGETS, "-p", "no:cacheprovider", "--collect-only", str(empty)]
    started = WarmServer.start(
        warm_imports(aws=False),
        pytest_warmup=run,
        warmed_up=(NOTHING_COLLECTED,),
        warmup_env={FROZEN_RECORD_VARIABLE: str(first)},
        further_warmups=[(run, {FROZEN_RECORD_VARIABLE: str(further)})],
        cwd=REPO,
    )
    assert started is not None
    try:
        record = tmp_path / "variable.json"
        payload = {"name": FROZEN_RECORD_VARIABLE, "record": str(record)}
        ended = started.run(
            "tests.warm_targets:record_variable",
            payload,
            output=tmp_path / "out",
            timeout_s=60,
            cwd=REPO,
        )
        assert ended.exit_code == 0
        assert json.loads(record.read_text(encoding="utf-8")) is None
    finally:
        started.close()
    assert first.is_file()
    assert further.is_file()


def test_the_check_modules_strategies_are_built_before_any_child(tmp_path: Path) -> None:
    """hypothesis builds a strategy when it is first drawn from (caching's two: 35 to 60 ms
    of CPU): the warm-up run validates every strategy its test modules define, so a child
    forked to run them finds them built."""
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "check_probe_strategies.py").write_text(
        "import hypothesis.strategies as st\n"
        "BUILT = []\n\n"
        "def _build():\n"
        "    BUILT.append('built')\n"
        "    return st.integers()\n\n"
        "lazily_built = st.deferred(_build)\n\n"
        "def test_probe():\n"
        "    pass\n",
        encoding="utf-8",
    )
    run = ["-p", "no:cacheprovider", "-o", "python_files=check_*.py", "--collect-only"]
    server = WarmServer.start(
        warm_imports(aws=False),
        pytest_warmup=[*run, "--rootdir", str(checks), str(checks)],
        warmed_up=(0,),
        cwd=REPO,
    )
    assert server is not None
    try:
        built = recorded(
            server,
            "record_module_attribute",
            tmp_path,
            module="check_probe_strategies",
            name="BUILT",
        )
    finally:
        server.close()
    assert built == 1


@pytest.mark.parametrize("mine", [True, False], ids=["mined", "not mined"])
def test_hypothesis_looks_at_the_servers_modules_before_any_child(
    tmp_path: Path, mine: bool
) -> None:
    """A child's first hypothesis test looks only at what the child imported, and hypothesis
    still stores its examples where that child's own variable says."""
    server = WarmServer.start(warm_imports(aws=False), cwd=REPO, mine_constants=mine)
    assert server is not None
    try:
        seen = recorded(server, "record_what_hypothesis_has_seen", tmp_path)
    finally:
        server.close()
    if mine:
        assert set(seen["unseen"]) <= {"tests", TARGETS}  # the target, imported by the child
    else:
        assert len(seen["unseen"]) > 300  # pytest, hypothesis, fakeredis and the stdlib
    assert seen["storage"] == seen["storage_variable"]  # the child's own, not the server's


def test_a_child_finds_fakeredis_warmed_up_and_no_server_to_share(
    server: WarmServer, tmp_path: Path
) -> None:
    """The server's first use of fakeredis (its command table, about 10 ms a child) leaves
    nothing a run could reach: no server in fakeredis' table of shared ones."""
    assert recorded(server, "record_fakeredis_state", tmp_path) == {
        "shared_servers": 0,
        "commands_loaded": True,
    }


def test_a_dead_server_is_reported_not_waited_for(server: WarmServer, tmp_path: Path) -> None:
    assert server.process is not None
    server.process.kill()
    server.process.wait()
    with pytest.raises(ServerGone):
        server.run(f"{TARGETS}:print_and_exit", "x", output=tmp_path / "out", timeout_s=WAIT_S)
    assert not server.alive


def test_a_run_asked_for_once_the_answers_ended_is_not_waited_for(tmp_path: Path) -> None:
    # The server's answers end while its input is still open: a child forked just before a
    # learner's code killed the server holds the input for a moment. The request is written
    # then, and nobody will answer it.
    process = subprocess.Popen(
        ["sh", "-c", "exec >&-; sleep 60"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    server = WarmServer(process)
    try:
        deadline = time.monotonic() + WAIT_S
        while server.alive and time.monotonic() < deadline:
            time.sleep(0.01)
        asked = time.monotonic()
        with pytest.raises(ServerGone):
            server.run(f"{TARGETS}:print_and_exit", "x", output=tmp_path / "out", timeout_s=1)
        assert time.monotonic() - asked < 10  # not its limit and the grace for answers (31 s)
    finally:
        process.kill()
        process.wait()
        server.close()


ORPHAN = """
import os, sys, time
from pytest_tutorial.warm.server import _die_with_server

record = sys.argv[1]
server_pid = os.getpid()
if os.fork() == 0:
    with open(record, "w") as out:
        out.write(str(os.getpid()))
    while os.getppid() == server_pid:  # the server dies before the child watches it
        time.sleep(0.01)
    _die_with_server(server_pid)
    with open(record, "a") as out:
        out.write(" survived")
    os._exit(0)
while not os.path.getsize(record):
    time.sleep(0.01)
"""


def test_a_child_whose_server_died_before_it_watched_ends_at_once(tmp_path: Path) -> None:
    record = tmp_path / "record"
    record.touch()
    subprocess.run([sys.executable, "-c", ORPHAN, str(record)], check=True, timeout=WAIT_S)
    child = int(record.read_text().split()[0])
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        time.sleep(0.01)
    assert record.read_text() == str(child)  # it ended without running on


@pytest.mark.parametrize("ending", ["client-gone-before-ready", "end-of-input", "sigterm"])
def test_a_server_leaves_no_folder_behind_however_it_ends(tmp_path: Path, ending: str) -> None:
    """Its scratch folder goes with it, also when its client died during the warm-up."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    config = {"imports": ["pytest"], "mine_constants": False}
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_tutorial.warm.server", json.dumps(config)],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(temp)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    if ending == "client-gone-before-ready":
        process.stdout.close()  # its answer "ready" then has no reader
    else:
        assert json.loads(process.stdout.readline()) == {"ready": 0}
        assert [path.name.startswith(SCRATCH_PREFIX) for path in temp.iterdir()] == [True]
        if ending == "sigterm":
            process.terminate()
    process.stdin.close()
    process.wait(WAIT_S)
    assert process.stderr is not None
    errors = process.stderr.read().decode()
    process.stdout.close()
    process.stderr.close()
    assert list(temp.iterdir()) == [], errors
    assert "Traceback" not in errors


def test_a_server_whose_socket_cannot_be_made_removes_the_folder_it_was_given(
    tmp_path: Path,
) -> None:
    """The folder its starting process made goes too when it cannot listen (that process
    removed the socket's folder as it ended: ``watch`` stopped during a server's start)."""
    given = tmp_path / "given"
    given.mkdir()
    config = {
        "imports": ["pytest"],
        "mine_constants": False,
        "listen": str(tmp_path / "gone" / "server.sock"),
        "scratch_root": str(given),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "pytest_tutorial.warm.server", json.dumps(config)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert not given.exists(), completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_killed_servers_folder_is_removed_when_it_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL leaves the server no clean-up (a learner's test can kill its run's server):
    the process that started it made the folder, and removes it."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    server = WarmServer.start(["pytest"], env={**os.environ, "TMPDIR": str(temp)}, cwd=REPO)
    assert server is not None
    assert server.process is not None
    assert [path.name.startswith(SCRATCH_PREFIX) for path in temp.iterdir()] == [True]
    server.process.kill()
    server.process.wait()
    server.close()
    assert list(temp.iterdir()) == []


def test_an_aws_run_never_sees_the_buckets_of_an_earlier_run(tmp_path: Path) -> None:
    server = WarmServer.start(warm_imports(aws=True), cwd=REPO)
    assert server is not None
    try:
        seen = []
        for number in (1, 2):
            record = tmp_path / f"buckets-{number}.json"
            output = tmp_path / f"out-{number}"
            result = server.run(
                f"{TARGETS}:make_a_bucket_and_list_without_reset",
                {"number": number, "record": str(record)},
                output=output,
                timeout_s=WAIT_S,
            )
            assert result.exit_code == 0, output.read_text(encoding="utf-8")
            seen.append(json.loads(record.read_text(encoding="utf-8")))
    finally:
        server.close()
    assert seen == [[], []]


def test_clients_on_its_socket_get_their_answers_and_leaving_ends_only_their_runs(
    tmp_path: Path,
) -> None:
    socket_path = tmp_path / "warm.sock"
    server = WarmServer.start(warm_imports(aws=False), cwd=REPO, listen=socket_path)
    assert server is not None
    try:
        first = WarmServer.connect(socket_path)
        leaving = WarmServer.connect(socket_path)
        assert first is not None
        assert leaving is not None
        answer = first.run(
            f"{TARGETS}:print_and_exit", "a", output=tmp_path / "a", timeout_s=WAIT_S
        )
        assert answer.exit_code == 5
        pid_file = tmp_path / "grandchild"
        outcome: list[BaseException] = []

        def hang() -> None:
            try:
                leaving.run(
                    f"{TARGETS}:hang_with_a_grandchild",
                    {"pid_file": str(pid_file)},
                    output=tmp_path / "hang",
                    timeout_s=WAIT_S,
                )
            except ServerGone as gone:
                outcome.append(gone)

        hanging = threading.Thread(target=hang)
        hanging.start()
        started = threading.Event()
        for _ in range(int(WAIT_S * 100)):
            if pid_file.exists() and pid_file.read_text(encoding="utf-8"):
                started.set()
                break
            started.wait(0.01)
        assert started.is_set()
        leaving.close()
        hanging.join(WAIT_S)
        assert len(outcome) == 1  # its answer never comes: the client left
        grandchild = int(pid_file.read_text(encoding="utf-8"))
        # the run of the client that left was killed with its group
        assert _ends_within(grandchild, WAIT_S)
        again = first.run(f"{TARGETS}:print_and_exit", "b", output=tmp_path / "b", timeout_s=WAIT_S)
        assert again.exit_code == 5  # the server and its other clients carry on
        assert server.run(f"{TARGETS}:print_and_exit", "c", output=tmp_path / "c", timeout_s=WAIT_S)
        first.close()
    finally:
        server.close()
    assert WarmServer.connect(socket_path) is None


def test_descriptors_sent_with_a_request_reach_the_run(tmp_path: Path) -> None:
    socket_path = tmp_path / "warm.sock"
    server = WarmServer.start(warm_imports(aws=False), cwd=REPO, listen=socket_path)
    assert server is not None
    client = WarmServer.connect(socket_path)
    assert client is not None
    output_read, output_write = os.pipe()
    side_read, side_write = os.pipe()
    try:
        answer = client.run(
            f"{TARGETS}:write_to_the_sent_descriptors",
            {"text": "hello"},
            output=None,
            timeout_s=WAIT_S,
            fds=[output_write, side_write],
        )
        os.close(output_write)
        os.close(side_write)
        assert answer.exit_code == 7
        assert answer.cpu_s > 0  # the run's own CPU time, from the server's wait4
        assert os.read(output_read, 1000) == b"printed hello\n"
        assert os.read(side_read, 1000) == b"written hello"
        with pytest.raises(ValueError, match="only over a connection"):
            server.run(f"{TARGETS}:print_and_exit", "x", output=None, timeout_s=5, fds=[0])
        assert server.alive
    finally:
        client.close()
        server.close()
        for fd in (output_read, side_read):
            os.close(fd)


def test_a_run_holds_none_of_the_servers_sockets_or_replies(
    server: WarmServer, tmp_path: Path
) -> None:
    """A run left holding the server's replies could answer for another run."""
    result = tmp_path / "descriptors.json"
    answer = server.run(
        f"{TARGETS}:report_descriptors",
        {"result": str(result)},
        output=tmp_path / "output",
        timeout_s=WAIT_S,
    )
    assert answer.exit_code == 0, (tmp_path / "output").read_text(encoding="utf-8")
    record = json.loads(result.read_text(encoding="utf-8"))
    assert record["server_stdout"].startswith("pipe:")
    assert record["server_stdout"] not in record["held"]
    assert not [link for link in record["held"] if link.startswith("socket:")]


def test_a_server_whose_warm_up_raises_says_what(tmp_path: Path) -> None:
    # A module that is missing is left for the runs to import (an optional one); one
    # that raises as it is imported is a broken install, and the start-up says so.
    (tmp_path / "broken_module_of_the_test.py").write_text(
        "raise RuntimeError('this install is broken')\n", encoding="utf-8"
    )
    said: list[str] = []
    started = WarmServer.start(
        (*warm_imports(aws=False), "broken_module_of_the_test"),
        cwd=tmp_path,
        on_failure=said.append,
    )
    assert started is None
    assert said == ["RuntimeError: this install is broken (while warming up)"]


def test_a_server_whose_interpreter_cannot_find_the_package_says_so(tmp_path: Path) -> None:
    # Without site-packages and the current folder (-S -P), as a learner's interpreter
    # that could import the package only from the folder it was started in.
    said: list[str] = []
    started = WarmServer.start(
        warm_imports(aws=False), cwd=tmp_path, python_flags=("-S", "-P"), on_failure=said.append
    )
    assert started is None
    assert len(said) == 1
    assert "No module named 'pytest_tutorial'" in said[0], said


def test_a_server_not_ready_in_time_says_so(tmp_path: Path) -> None:
    said: list[str] = []
    started = WarmServer.start(
        warm_imports(aws=False), cwd=tmp_path, timeout_s=0.01, on_failure=said.append
    )
    assert started is None
    assert said == ["it was not ready within 0.01 s"]
