"""Ending whatever is left of one submission once its grading child is done.

Only what provably belongs to the submission is killed: processes that carry the job's
marker (:data:`~.sandbox.MARKER_VARIABLE`) in their environment, or run as the job slot's
uid, which the batch leases for itself alone (:mod:`.uids`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .sandbox import MARKER_VARIABLE

if TYPE_CHECKING:
    from .usage import Watched

SWEEP_S = 5.0
"""How long to keep killing what is left after bubblewrap ended (its processes may outlive it)."""


def stray_processes(marker: str, uid: int | None = None) -> list[int]:
    """Live processes that carry ``marker`` in their environment or run as ``uid``.

    Only what provably belongs to one submission: ``marker`` names the batch and the job,
    and ``uid`` is a job slot's uid, leased by this batch alone (:mod:`.uids`) and used by
    one submission at a time. Never root's. Zombies are left out (they are dead already).
    """
    if uid == 0:
        uid = None
    needle = f"{MARKER_VARIABLE}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            ours = uid is not None and entry.stat().st_uid == uid
            if not ours:
                ours = needle in (entry / "environ").read_bytes().split(b"\0")
            if ours and (entry / "stat").read_text().rpartition(")")[2].split()[0] not in "ZX":
                found.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return found


def end_everything(child: Watched, marker: str, uid: int | None) -> None:
    """Kill the child's process group, then anything else of this submission still alive."""
    child.sample(force=True)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    if child.wait(timeout=10) is None:
        child.kill()
        child.wait(timeout=None)
    # Inside bubblewrap the kernel kills the sandbox's processes as its init exits, which
    # may end after bubblewrap itself: keep sweeping until none is left (bounded).
    deadline = time.monotonic() + SWEEP_S
    while strays := stray_processes(marker, uid):
        for pid in strays:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() >= deadline:
            return
        time.sleep(0.05)
