"""Job-slot uids that no other batch on the machine can hold at the same time.

As root, each job slot's child drops to a uid of its own, and the cleanup after each
submission kills every process of that uid (a submission's processes may have left its
process group and its environment). Two batches on one machine (two CI jobs, parallel
runs of this project's tests) must therefore never use the same uid, or one batch's
cleanup kills the other's running child. A batch leases its uids: it holds an exclusive
``flock`` on ``uid-N.lock`` in a root-owned folder for its whole lifetime. The kernel drops
the lock when its holder exits, however it exits, so a crashed batch leaves no uid taken.
A uid that has a passwd entry or still runs a process is never leased.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

UID_BASE = 64500
"""First uid tried for the job slots. Graders before leases took the first free uids from
64200 on without a lease (and their cleanup killed every process of those uids), so the
leased range starts above what one of them uses (fewer than 300 job slots)."""
UID_SPAN = 1000
"""How many uids from :data:`UID_BASE` on may be leased (below 65534, ``nobody``)."""
LEASE_FOLDERS = (
    Path("/run/pytest-tutorial"),
    Path(tempfile.gettempdir()) / "pytest-tutorial-uid-leases",
)
"""Where the lock files live: the first folder that is (or can be made) root's own."""


class LeaseError(RuntimeError):
    """No uids could be leased (no usable lease folder, or none free)."""


class UidLease:
    """Uids held by this batch until :meth:`release` (or until the process ends)."""

    def __init__(self, uids: Sequence[int], handles: Sequence[int], folder: Path | None) -> None:
        self.uids = tuple(uids)
        self.folder = folder
        self._handles = list(handles)

    def release(self) -> None:
        """Give the uids back (closing the lock files drops the locks)."""
        while self._handles:
            with contextlib.suppress(OSError):
                os.close(self._handles.pop())


def lease(
    count: int,
    *,
    folders: Sequence[Path] = LEASE_FOLDERS,
    base: int = UID_BASE,
    span: int = UID_SPAN,
) -> UidLease:
    """Lease ``count`` free uids from ``base`` up; raises :class:`LeaseError`."""
    folder, problems = None, []
    for candidate in folders:
        problem = _usable(candidate)
        if not problem:
            folder = candidate
            break
        problems.append(problem)
    if folder is None:
        raise LeaseError("cannot lease job-slot uids: " + "; ".join(problems))
    busy = uids_in_use()
    uids: list[int] = []
    handles: list[int] = []
    for uid in range(base, base + span):
        if len(uids) == max(count, 1):
            break
        if uid in busy or _has_account(uid):
            continue
        handle = _lock(folder / f"uid-{uid}.lock")
        if handle is not None:
            uids.append(uid)
            handles.append(handle)
    if len(uids) < max(count, 1):
        UidLease(uids, handles, folder).release()
        raise LeaseError(f"cannot lease {count} job-slot uids from {base}: all are taken")
    return UidLease(uids, handles, folder)


def _usable(folder: Path) -> str:
    """'' when ``folder`` is a real folder only root can write to (made if missing)."""
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.mkdir(folder, 0o755)
    try:
        info = os.lstat(folder)
    except OSError as error:
        return f"{folder}: {error.strerror or error}"
    if not stat.S_ISDIR(info.st_mode):
        return f"{folder} is not a folder"
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        mode = info.st_mode & 0o777
        return f"{folder} is not this user's alone (owner {info.st_uid}, mode {mode:o})"
    return ""


def _lock(path: Path) -> int | None:
    """An open, exclusively locked lock file, or None when another batch holds it."""
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    try:
        handle = os.open(path, flags, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(handle)
        return None
    return handle


def _has_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def uids_in_use() -> set[int]:
    """The uids that own a process on this machine right now."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                found.add(entry.stat().st_uid)
    return found
