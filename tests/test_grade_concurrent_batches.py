"""Two grading batches on one machine at once must not touch each other's submissions.

As root, each job slot's child drops to a uid of its own, and the cleanup after each
submission kills every process of that uid. Two batches that pick the same uids (two CI
jobs, parallel runs of this project's tests) would kill each other's running children:
honest submissions then end ``crashed`` by SIGKILL. The test holds batch A's child at a
barrier (it waits for SIGUSR1 at import, after dropping to its uid), grades batch B to the
end meanwhile, then releases A: A must complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.grading import batch, sandbox
from tests.conftest import REPO

pytestmark = pytest.mark.slow

BARRIER = (
    "\nimport signal as _signal, time as _time\n"
    "_released = []\n"
    "_signal.signal(_signal.SIGUSR1, lambda number, frame: _released.append(number))\n"
    "while not _released:\n"
    "    _time.sleep(0.05)\n"
)
"""At import, batch A's submission waits until it is sent SIGUSR1."""
LIMITS = sandbox.Limits(wall_s=120, cpu_s=120, memory_mb=1536, output_kb=256, scratch_mb=256)
SIGUSR1_BIT = 1 << (signal.SIGUSR1 - 1)


def _starter(folder: Path, code: str = "") -> Path:
    shutil.copytree(
        REPO / "exercises" / "caching",
        folder,
        ignore=shutil.ignore_patterns("__pycache__", ".hypothesis", ".benchmarks"),
    )
    module = folder / "cache_service.py"
    module.write_text(module.read_text(encoding="utf-8") + code, encoding="utf-8")
    return folder


def _waiting_child(run_id: str) -> int | None:
    """The pid of batch A's process that waits (catching SIGUSR1), once it dropped root.

    It carries batch A's marker: its job's (``RUN-JOB``), or, forked by a job slot's warm
    server, the batch's (``RUN``, that server's environment when it started).
    """
    marker = f"{sandbox.MARKER_VARIABLE}={run_id}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            variables = (entry / "environ").read_bytes().split(b"\0")
            ours = any(v == marker or v.startswith(marker + b"-") for v in variables)
            if not ours or entry.stat().st_uid == 0:
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if int(fields.get("SigCgt", "0"), 16) & SIGUSR1_BIT:
            return int(entry.name)
    return None


def _options(out: Path, submission: Path, run_id: str) -> batch.Options:
    return batch.Options(
        tutorial="caching",
        out=out,
        submissions=(submission,),
        limits=LIMITS,
        keyword="core",
        check_timeout=100.0,
        mode=sandbox.Mode.BWRAP,
        run_id=run_id,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="job-slot uids exist only when grading as root")
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_a_second_batch_does_not_kill_the_first_ones_child(tmp_path: Path) -> None:
    held = _starter(tmp_path / "held", BARRIER)
    other = _starter(tmp_path / "other")
    run_a, run_b = f"held{os.getpid()}", f"other{os.getpid()}"
    finished: dict[str, Any] = {}

    def grade_a() -> None:
        finished["a"] = batch.run(_options(tmp_path / "out-a", held, run_a))

    thread = threading.Thread(target=grade_a, daemon=True)
    thread.start()
    deadline, pid = time.monotonic() + 90, None
    while pid is None and time.monotonic() < deadline and thread.is_alive():
        pid = _waiting_child(run_a)
        time.sleep(0.1)
    assert pid is not None, "batch A's child never reached the barrier"
    try:
        second = batch.run(_options(tmp_path / "out-b", other, run_b))
        assert second.graded[0].outcome.kind == "completed", second.graded[0].outcome.detail
    finally:
        # Gone already when batch B's cleanup killed it: the failure asserted below.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGUSR1)
        thread.join(timeout=120)
    first = finished["a"].graded[0]
    assert first.outcome.kind == "completed", first.outcome.detail
    assert first.job.ident == "held"
