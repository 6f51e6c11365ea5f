"""Every way a grading child can be ended names itself, with figures; job-slot uids are leased.

The outcome's detail must say which limit ended a child (wall clock, output cap, each
rlimit, a full scratch folder, the kernel's OOM killer, the sandbox) or that none did, so
that a SIGKILL from outside the grader is never mistaken for a limit. Uids are leased per
batch, so no two batches on a machine share one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_tutorial.grading import cleanup, ending, results, sandbox, stream, uids, usage
from pytest_tutorial.grading.results import OutcomeKind

LIMITS = sandbox.Limits(wall_s=30, cpu_s=20, memory_mb=1024, file_size_mb=8, output_kb=64)
NODE = "caching/check_core.py::test_a"


def _state(*, done: bool = False, verdict: bool = True) -> results.StreamState:
    state = results.StreamState(frozenset({NODE}))
    state.apply({"event": stream.HELLO})
    state.apply({"event": stream.COLLECTED, "selected": [NODE], "deselected": []})
    if verdict:
        state.apply({"event": stream.START, "nodeid": NODE})
        state.apply({"event": stream.RESULT, "nodeid": NODE, "status": "passed"})
    if done:
        state.apply({"event": stream.DONE, "exit_code": 0})
    return state


def _ending(
    code: int | None, *, cpu: float = 1.0, oom: int | None = 0, isolated: bool = False
) -> ending.Ending:
    figures = usage.Usage(peak_rss_kb=300 * 1024, cpu_s=cpu + 0.5, process_cpu_s=cpu)
    return ending.Ending("exited", code, figures, oom, "", isolated)


@pytest.mark.parametrize(
    ("code", "cpu", "oom", "isolated", "expected"),
    [
        (-24, 20.1, 0, False, "RLIMIT_CPU soft limit (20 s of CPU per process, --cpu)"),
        (128 + 24, 20.1, 0, True, "exit status 152 from the sandbox: 128 + 24"),
        (-25, 1.0, 0, False, "RLIMIT_FSIZE limit (8 MB, --file-size)"),
        (-9, 20.9, 0, False, "the RLIMIT_CPU hard limit (21 s of CPU per process)"),
        (-9, 1.0, 2, False, "out-of-memory killer (2 OOM kill(s) on this machine"),
        (-9, 1.0, 0, False, "sent from outside the grader"),
        (-9, 1.0, None, False, "whether the kernel's OOM killer ran is not readable"),
        (-11, 1.0, 0, False, "address-space limit RLIMIT_AS: 1024 MB"),
        (3, 1.0, 0, False, "exited with status 3 before every check reported"),
    ],
    ids=["xcpu", "xcpu-bwrap", "xfsz", "cpu-hard", "oom", "outside", "oom-unknown", "segv", "exit"],
)
def test_each_kill_names_its_cause_and_the_figures(
    code: int, cpu: float, oom: int | None, isolated: bool, expected: str
) -> None:
    found = ending.outcome(_ending(code, cpu=cpu, oom=oom, isolated=isolated), LIMITS, _state())
    assert found.kind == OutcomeKind.CRASHED
    assert expected in found.detail
    assert "peak RSS 300.0 MiB, CPU" in found.detail
    assert "memory or a limit?" not in found.detail


def test_the_parent_s_own_stops_name_themselves() -> None:
    state = _state(verdict=False)
    timeout = ending.Ending(OutcomeKind.TIMEOUT, -9, usage.Usage(cpu_s=29.0), 0)
    assert ending.outcome(timeout, LIMITS, state).detail.startswith(
        "the 30 s wall-clock limit ran out (peak RSS"
    )
    flood = ending.Ending(OutcomeKind.OUTPUT_LIMIT, -9, usage.Usage(), 0)
    assert "more than 64 KiB of output" in ending.outcome(flood, LIMITS, state).detail


def test_a_sandbox_that_fails_to_start_is_the_grader_s_failure() -> None:
    state = results.StreamState(frozenset({NODE}))
    broken = ending.Ending("exited", 1, usage.Usage(), 0, "bwrap: Can't mount proc\n", True)
    found = ending.outcome(broken, LIMITS, state)
    assert found.kind == OutcomeKind.NOT_STARTED
    assert "the sandbox (bubblewrap) failed" in found.detail


def test_a_full_scratch_folder_is_named() -> None:
    state = _state(done=True)
    state.apply({"event": stream.DONE, "exit_code": 3, "scratch_free": 0})
    found = ending.outcome(_ending(0), LIMITS, state)
    assert "the scratch folder (a 512 MB tmpfs, --scratch) was full (0 bytes free)" in found.detail


def test_done_with_checks_missing_a_verdict_is_a_crash() -> None:
    """A forged early ``done`` (or a lost result) cannot pass for a completed run."""
    state = _state(verdict=False)
    state.apply({"event": stream.DONE, "exit_code": 0})
    found = ending.outcome(_ending(0), LIMITS, state)
    assert found.kind == OutcomeKind.CRASHED
    assert "1 selected check(s) never reported" in found.detail
    assert ending.outcome(_ending(0), LIMITS, _state(done=True)).kind == OutcomeKind.COMPLETED


@pytest.mark.slow
def test_usage_is_sampled_from_the_process_tree() -> None:
    """The figures of a grandchild (as inside bubblewrap) reach the parent."""
    script = (
        "import subprocess, sys\n"
        "code = 'import time\\nx = bytearray(96 << 20)\\nt = time.process_time()\\n"
        'while time.process_time() - t < 0.6: pass\\nprint("ready", flush=True)\\n'
        "time.sleep(60)'\n"
        "subprocess.run([sys.executable, '-c', code])\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True
    )
    child = usage.Child(process)
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"
        child.sample(force=True)
    finally:
        os.killpg(process.pid, 9)
        child.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert child.returncode == -9
    assert child.usage.process_cpu_s >= 0.5
    assert child.usage.peak_rss_kb >= 96 * 1024
    assert child.usage.processes >= 2


def test_leases_never_share_a_uid_and_a_released_one_is_free_again(tmp_path: Path) -> None:
    folder = tmp_path / "leases"
    first = uids.lease(2, folders=[folder], base=70000)
    second = uids.lease(2, folders=[folder], base=70000)
    assert not set(first.uids) & set(second.uids)
    first.release()
    third = uids.lease(2, folders=[folder], base=70000)
    assert set(third.uids) == set(first.uids)
    second.release()
    third.release()


@pytest.mark.slow
def test_a_lease_ends_with_the_process_that_holds_it(tmp_path: Path) -> None:
    folder = tmp_path / "leases"
    holder = (
        "import sys; from pathlib import Path; from pytest_tutorial.grading import uids\n"
        f"lease = uids.lease(1, folders=[Path({str(folder)!r})], base=70100)\n"
        "print(lease.uids[0], flush=True); sys.stdin.read()"
    )
    with subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as held:
        assert held.stdout is not None
        taken = int(held.stdout.readline())
        assert uids.lease(1, folders=[folder], base=70100).uids[0] != taken
        held.kill()  # however the holder ends, its lease ends with it
    again = uids.lease(1, folders=[folder], base=70100)
    assert again.uids[0] == taken
    again.release()


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="starting a process under another uid needs root")
def test_a_uid_that_runs_a_process_is_never_leased(tmp_path: Path) -> None:
    """A process left under a uid (by a crashed batch without bubblewrap) keeps it taken."""
    with subprocess.Popen(["sleep", "60"], user=70300, group=70300, extra_groups=[]) as left:
        try:
            lease = uids.lease(1, folders=[tmp_path / "leases"], base=70300, span=2)
        finally:
            left.kill()
    assert lease.uids == (70301,)


def test_an_unsafe_lease_folder_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(uids.LeaseError, match="not this user's alone"):
        uids.lease(1, folders=[shared], base=70200)
    fallback = uids.lease(1, folders=[shared, tmp_path / "own"], base=70200)
    assert fallback.folder == tmp_path / "own"


def test_the_sweep_never_kills_root_s_processes() -> None:
    assert cleanup.stray_processes("no-such-marker", 0) == []
