"""Grading children forked from a job slot's warm server (pytest_tutorial.grading.warm_slots).

Forked children grade as cold ones do, a submission finds nothing the slot's previous one
left (files anyone may write, System V shared memory, processes), a slot whose server
cannot start grades its children cold, and the submission's test runs' server and worker
are forks of the slot's server too, as learner processes whose usage the report counts.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.grading import batch, sandbox, warm_slots
from pytest_tutorial.grading.usage import SAMPLE_EVERY_S
from tests.adversarial.case import Case
from tests.warm_targets import recorded

pytestmark = pytest.mark.slow

LIMITS = sandbox.Limits(wall_s=120, cpu_s=120, memory_mb=2048, processes=128)
CHECK = "test_computes_once_then_serves_the_cached_value"
"""The one check graded (``-k``): it imports the submission, which runs the probes."""
SHM_KEY = 0x5EED7
LEAVES = f"""
import ctypes as _ctypes, os as _os, pathlib as _pathlib, subprocess as _subprocess
for _place in ("/tmp/left-by-a", "/dev/shm/left-by-a"):
    try:
        _pathlib.Path(_place).write_text("a's code", encoding="utf-8")
    except OSError:
        pass
_ctypes.CDLL(None, use_errno=True).shmget({SHM_KEY}, 4096, 0o1666)
_subprocess.Popen(["sleep", "300"], start_new_session=True, stdin=_subprocess.DEVNULL,
                  stdout=_subprocess.DEVNULL, stderr=_subprocess.DEVNULL)
"""
LOOKS = f"""
import ctypes as _ctypes, os as _os, pathlib as _pathlib
_found = [p for p in ("/tmp/left-by-a", "/dev/shm/left-by-a") if _pathlib.Path(p).exists()]
if _ctypes.CDLL(None, use_errno=True).shmget({SHM_KEY}, 0, 0) != -1:
    _found.append("shared memory segment")
for _pid in filter(str.isdigit, _os.listdir("/proc")):
    try:
        if _pathlib.Path(f"/proc/{{_pid}}/cmdline").read_bytes() == b"sleep\\0300\\0":
            _found.append(f"process {{_pid}}")
    except OSError:
        pass
if _found:
    raise ImportError(f"left by the previous submission: {{_found}}")
"""


def _warm_box() -> sandbox.Sandbox:
    box = sandbox.detect(sandbox.Mode.AUTO, 1, [])
    box.release()
    if box.bwrap is None or not box.uids:
        pytest.skip("forked grading children need bubblewrap and job-slot uids (root)")
    return box


def _grade(
    folder: Path, cases: list[Case], monkeypatch: pytest.MonkeyPatch, **options: Any
) -> tuple[dict[str, dict[str, Any]], list[bool]]:
    """Grade ``cases`` in one job slot; their reports, and whether each child was forked."""
    forked: list[bool] = []
    fork = warm_slots.SlotServer.fork

    def recorded(self: warm_slots.SlotServer, *args: Any, **kwargs: Any) -> Any:
        child = fork(self, *args, **kwargs)
        forked.append(child is not None)
        return child

    monkeypatch.setattr(warm_slots.SlotServer, "fork", recorded)
    out = folder / "out"
    paths = tuple(case.build(folder / "cases", {}) for case in cases)
    done = batch.run(
        batch.Options(
            tutorial="caching",
            out=out,
            submissions=paths,
            jobs=1,
            limits=LIMITS,
            run_id=f"warm{os.getpid()}",
            **{"keyword": CHECK, **options},
        )
    )
    assert not done.infrastructure_failures
    reports = {
        row["submission"]: json.loads((out / row["report"]).read_text(encoding="utf-8"))
        for row in done.book.rows
    }
    return reports, forked


def _status(report: dict[str, Any], check_name: str = CHECK) -> str:
    """The graded check's status."""
    found = [
        check["status"]
        for item in report["checklist"]
        for check in item.get("checks", [])
        if check["name"] == check_name
    ]
    assert len(found) == 1, report["checklist"]
    return str(found[0])


def test_a_submission_finds_nothing_the_slots_previous_one_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _warm_box()
    reports, forked = _grade(
        tmp_path,
        [
            Case("a_leaves", LEAVES, base="reference_solutions"),
            Case("b_looks", LOOKS, base="reference_solutions"),
        ],
        monkeypatch,
    )
    assert forked == [True, True]
    for name in ("a_leaves", "b_looks"):
        report = reports[name]
        assert report["grading"]["outcome"] == "completed", report["grading"]
        assert _status(report) == "passed", (name, report["problems"])


def test_the_probe_sees_what_a_submission_leaves_in_its_own_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other test's probe would notice: one submission that leaves and looks fails."""
    _warm_box()
    reports, _ = _grade(
        tmp_path,
        [Case("leaves_and_looks", LEAVES + LOOKS, base="reference_solutions")],
        monkeypatch,
    )
    report = reports["leaves_and_looks"]
    assert _status(report) == "error"
    assert "left by the previous submission" in json.dumps(report)


def test_a_slot_whose_server_cannot_start_grades_cold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _warm_box()
    monkeypatch.setattr(warm_slots.SlotServer, "start", classmethod(lambda cls, *a, **k: None))
    reports, forked = _grade(tmp_path, [Case("reference", base="reference_solutions")], monkeypatch)
    assert forked == []
    assert _status(reports["reference"]) == "passed"


def test_cold_start_forks_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _warm_box()
    reports, forked = _grade(tmp_path, [Case("starter")], monkeypatch, warm=False)
    assert forked == []
    assert _status(reports["starter"]) != "passed"


def test_without_job_slot_uids_no_slot_is_warm(tmp_path: Path) -> None:
    """Without uids of their own the submission's processes would share the warm one's."""
    box = sandbox.Sandbox(sandbox.SandboxKind.BUBBLEWRAP, bwrap="/usr/bin/bwrap")
    options = batch.Options(tutorial="caching", out=tmp_path, submissions=())
    tutorial = batch.load_tutorial("caching", ())[1]
    assert not box.uids
    assert batch._slot_servers(options, box, [], tutorial, tmp_path) is None
    with_uids = sandbox.Sandbox(sandbox.SandboxKind.BUBBLEWRAP, bwrap="/usr/bin/bwrap", uids=(1,))
    assert batch._slot_servers(options, with_uids, [], tutorial, tmp_path) is not None


def test_a_fork_given_up_on_leaves_a_cold_start_pipes_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request went out, so a forked child may have read the token: cold starts anew."""
    _warm_box()
    monkeypatch.setattr(warm_slots, "FORK_TIMEOUT_S", 0.0)  # never waits to see the child
    reports, forked = _grade(tmp_path, [Case("reference", base="reference_solutions")], monkeypatch)
    assert forked == [False]
    assert _status(reports["reference"]) == "passed"


OWN_TESTS = "test_own_tests_pass_in_shuffled_order"
SEES_ITS_SERVER = """
import os
from pathlib import Path


def test_the_runs_server_was_forked_by_the_slots_server():
    server = os.getppid()
    command = Path(f"/proc/{server}/cmdline").read_bytes()
    assert b"pytest_tutorial.grading.child" in command  # the slot server's imports
    assert os.stat(f"/proc/{server}").st_uid == os.getuid() != 0  # the cleanup finds it


def test_a_run_holds_no_socket():
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            held.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    assert not [link for link in held if link.startswith("socket:")], held
"""


def test_the_test_runs_server_is_forked_by_the_slot_server_as_a_learner_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forked, not started cold: the slot uid's, holding none of the slot server's sockets.

    The learner's own tests pass only where their runs' server carries the slot server's
    command line (a cold one has its own) and is visible as the slot uid's.
    """
    _warm_box()
    cases = [
        Case(
            name,
            base="reference_solutions",
            files={"tests/test_sees_its_server.py": SEES_ITS_SERVER},
        )
        for name in ("first", "second")  # the second in the slot the first left
    ]
    reports, forked = _grade(tmp_path, cases, monkeypatch, keyword=OWN_TESTS)
    assert forked == [True, True]
    for report in reports.values():
        assert _status(report, OWN_TESTS) == "passed", report["problems"]


READS_REWRITTEN = f"""
import pathlib as _pathlib
_folders = list(_pathlib.Path("{sandbox.SCRATCH}").glob("*/rewritten"))
if not _folders:  # the probe must look where the slot server keeps them
    raise ImportError("no folder of rewritten modules found to try")
_found = []
for _folder in _folders:
    try:
        _found += [_entry.name for _entry in _folder.iterdir()]
    except OSError:
        pass
if _found:
    raise ImportError(f"the rewritten check modules are readable: {{_found}}")
"""


def test_the_submission_cannot_read_the_rewritten_check_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The slot server keeps the checks' rewritten code for its children: root's alone."""
    _warm_box()
    reports, forked = _grade(
        tmp_path,
        [Case("reads_rewritten", READS_REWRITTEN, base="reference_solutions")],
        monkeypatch,
    )
    assert forked == [True]
    assert _status(reports["reads_rewritten"]) == "passed", reports["reads_rewritten"]["problems"]


IN_A_FORKED_WORKER = """
import os as _os, time as _time
_until = _time.process_time() + WORKER_CPU_S
while _time.process_time() < _until:  # CPU the report's usage must count
    pass
_command = open("/proc/self/cmdline", "rb").read()
if b"pytest_tutorial.isolation.worker" in _command or _os.getuid() == 0:
    raise ImportError(f"not in a worker the slot forked: {_command[:70]!r}, uid {_os.getuid()}")
"""


WORKER_CPU_S = 2.5
"""More than the grading child itself uses (about 1.5 s)."""


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold-start"])
def test_the_submissions_worker_is_forked_by_the_slot_server_as_a_learner_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm: bool
) -> None:
    """Its code runs under the slot's uid, in a fork (its command line is the slot server's).

    Started cold, the same probe fails: the worker then has a command line of its own.
    Either way the report's usage counts the worker, a fork of the slot's server or not.
    """
    _warm_box()
    reports, forked = _grade(
        tmp_path,
        [
            Case(
                "probes_its_worker",
                IN_A_FORKED_WORKER.replace("WORKER_CPU_S", str(WORKER_CPU_S)),
                base="reference_solutions",
            )
        ],
        monkeypatch,
        warm=warm,
    )
    assert forked == ([True] if warm else [])
    report = reports["probes_its_worker"]
    assert _status(report) == ("passed" if warm else "error"), report["problems"]
    assert ("not in a worker the slot forked" in json.dumps(report)) is not warm
    # sampled every quarter of a second while the submission runs: on a loaded machine the
    # last sample before the worker ends can come late, so two intervals may go unseen;
    # 2 s is still more than any other process of a submission uses (the child: about 1 s)
    assert report["grading"]["usage"]["max_process_cpu_s"] >= WORKER_CPU_S - 2 * SAMPLE_EVERY_S


@pytest.mark.parametrize("warmed_up", [True, False])
def test_a_slots_server_makes_a_grading_childs_pytest_set_up_once(
    tmp_path: Path, warmed_up: bool
) -> None:
    """Its warm-up run leaves loaded what only a pytest run loads (pytest's plugins made at
    configuration), so that each grading child finds them there."""
    from pytest_tutorial.warm import BASE_IMPORTS, NOTHING_COLLECTED, WARMED_UP, WarmServer

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    server = WarmServer.start(
        (*BASE_IMPORTS, *warm_slots.CHILD_IMPORTS),
        pytest_warmup=warm_slots.warm_up_run(empty) if warmed_up else None,
        warmed_up=(NOTHING_COLLECTED,) if warmed_up else WARMED_UP,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert server is not None  # the warm-up run collected nothing, as it should
    names = ["_pytest.skipping", "_pytest.unraisableexception", "_pytest.setuponly"]
    try:
        loaded = recorded(server, "record_loaded_modules", tmp_path, names=names)
    finally:
        server.close()
    assert loaded == dict.fromkeys(names, warmed_up)


REFERENCE_PROBE = """
import os as _os
_command = open("/proc/self/cmdline", "rb").read()
if b"pytest_tutorial.isolation.worker" in _command or _os.getuid() != 0:
    raise ImportError(f"not forked as the trusted side: {_command[:70]!r}, uid {_os.getuid()}")
"""
PERFORMANCE_CHECK = "test_p95_of_cached_reads_under_concurrent_load"


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold-start"])
def test_the_references_worker_is_forked_by_the_slot_server_as_the_trusted_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm: bool
) -> None:
    """The relative performance target's reference runs in a fork of the slot's server,
    as the grading child's uid (root), not the slot's learner uid.

    The grader's reference carries a probe: imported in a worker started cold (a command
    line of its own) or under another uid, it fails, and the report says the reference
    could not be imported. The submission is an honest copy of the reference.
    """
    _warm_box()
    reference = tmp_path / "reference"
    shutil.copytree(
        Path(__file__).resolve().parent.parent / "reference_solutions/caching", reference
    )
    module = reference / "cache_service.py"
    module.write_text(module.read_text(encoding="utf-8") + REFERENCE_PROBE, encoding="utf-8")
    monkeypatch.setattr(batch, "reference_of", lambda source: reference)
    reports, forked = _grade(
        tmp_path,
        [Case("honest", base="reference_solutions")],
        monkeypatch,
        warm=warm,
        keyword=PERFORMANCE_CHECK,
    )
    assert forked == ([True] if warm else [])
    report = reports["honest"]
    assert ("not forked as the trusted side" in json.dumps(report)) is not warm, report
    assert _status(report, PERFORMANCE_CHECK) == "passed", report["problems"]


IN_A_FORKED_CHILD = """
import os as _os, pathlib as _pathlib
_parent = _pathlib.Path(f"/proc/{_os.getppid()}/cmdline").read_bytes()
_sockets = []
for _fd in _os.listdir("/proc/self/fd"):
    try:
        _link = _os.readlink(f"/proc/self/fd/{_fd}")
    except OSError:
        continue
    if _link.startswith("socket:"):
        _sockets.append(_link)
if b"pytest_tutorial.warm.server" not in _parent:
    raise ImportError("not in a grading child the slot forked")
if _os.getuid() == 0 or _sockets:
    raise ImportError(f"uid {_os.getuid()}, sockets held {_sockets}")
"""


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold-start"])
def test_with_isolation_process_the_child_is_forked_and_keeps_none_of_the_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm: bool
) -> None:
    """The submission's code, imported by the child after the seal, runs as the slot's uid
    in a fork of the slot's server that holds none of the server's sockets.

    Started cold, the same probe fails: the child's parent is then bubblewrap's.
    """
    _warm_box()
    reports, forked = _grade(
        tmp_path,
        [Case("probes_its_child", IN_A_FORKED_CHILD, base="reference_solutions")],
        monkeypatch,
        isolation="process",
        warm=warm,
    )
    assert forked == ([True] if warm else [])
    report = reports["probes_its_child"]
    assert report["grading"]["isolation"] == "process"
    assert _status(report) == ("passed" if warm else "error"), report["problems"]
    assert ("not in a grading child the slot forked" in json.dumps(report)) is not warm


def test_with_isolation_process_a_forked_child_runs_the_learners_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once it has given up root, the child's temporary folder is its own scratch's, not
    the slot server's (root's), where the runs' folders could not be made."""
    _warm_box()
    reports, forked = _grade(
        tmp_path,
        [Case("honest", base="reference_solutions")],
        monkeypatch,
        isolation="process",
        keyword=OWN_TESTS,
    )
    assert forked == [True]
    report = reports["honest"]
    assert _status(report, OWN_TESTS) == "passed", report["checklist"]
