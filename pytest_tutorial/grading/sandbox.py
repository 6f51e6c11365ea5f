"""Containment of one grading child: bubblewrap where it runs, resource limits always.

With bubblewrap (``bwrap``) the child gets new PID, network, IPC and UTS namespaces (so
no network but loopback, and every process it leaves is killed with it), a read-only view
of only the interpreter, its libraries and the package (never the working tree, so no
reference solution), a size-limited tmpfs as its one writable folder, and a tmpfs over
the tutorials' folders, into which the child unpacks the checks the parent feeds it.
As root, bubblewrap runs without a user namespace and the child drops to a uid of its
own per job slot right after collection (so ``RLIMIT_NPROC`` binds and nothing it starts
keeps root); the batch leases those uids for its lifetime (:mod:`.uids`), so no other
batch on the machine uses them. Otherwise bubblewrap maps the caller's uid in a new user
namespace.

Where bubblewrap cannot run, the child runs with resource limits alone (and, as root,
still under its own uid when the interpreter is reachable by it): :attr:`Sandbox.warning`
says what that gives up.
"""

from __future__ import annotations

import enum
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import uids as uid_leases

if TYPE_CHECKING:
    pass

MiB = 1024 * 1024
CPU_GRACE_S = 1
"""Seconds of CPU between ``RLIMIT_CPU``'s soft limit (SIGXCPU) and its hard one (SIGKILL)."""
SCRATCH = Path("/grading")
"""The child's writable folder inside bubblewrap (a tmpfs)."""
SUBMISSION_SOURCE = Path("/submission-source")
"""Where the parent's fresh copy of the submission is mounted, read-only."""
MARKER_VARIABLE = "PYTEST_TUTORIAL_GRADE_RUN"
"""Environment variable naming the run, to find a submission's stray processes."""
ETC_FILES = (
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/localtime",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
)
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
CHILD_MODULE = "pytest_tutorial.grading.child"
_PR_SET_NO_NEW_PRIVS = 38


class Mode(enum.Enum):
    """``--sandbox``: what containment to insist on."""

    AUTO = "auto"
    BWRAP = "bwrap"
    NONE = "none"


class SandboxKind(enum.StrEnum):
    """The containment a batch runs with, as the report's ``grading.sandbox`` spells it."""

    BUBBLEWRAP = "bubblewrap"
    RLIMITS = "rlimits"
    """Resource limits only (no bubblewrap)."""


@dataclass(frozen=True)
class Limits:
    """Per-submission limits. ``wall_s`` and ``output_kb`` are enforced by the parent."""

    wall_s: float = 300.0
    cpu_s: int = 300
    memory_mb: int = 2048
    file_size_mb: int = 64
    open_files: int = 512
    processes: int = 256
    output_kb: int = 1024
    scratch_mb: int = 512

    @property
    def cpu_hard_s(self) -> int:
        """``RLIMIT_CPU``'s hard limit, where a process that ignored SIGXCPU gets SIGKILL.

        One second past the soft limit: nothing honest handles SIGXCPU (the harness does
        not), so a longer grace only lets such a process burn more CPU.
        """
        return self.cpu_s + CPU_GRACE_S

    def to_json(self) -> str:
        """For the child's command line."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Limits:
        """The inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


def no_new_privileges() -> None:
    """No setuid program can give back what a process drops (``PR_SET_NO_NEW_PRIVS``)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def drop_to(uid: int) -> None:
    """Become ``uid`` for good (user, group, no supplementary groups). Needs root."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def apply_rlimits(limits: Limits, *, processes: bool) -> None:
    """Set the child's own limits (inherited by everything it starts). Runs in the child."""
    import resource

    wanted = [
        (resource.RLIMIT_CPU, limits.cpu_s, limits.cpu_hard_s),
        (resource.RLIMIT_AS, limits.memory_mb * MiB, limits.memory_mb * MiB),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * MiB, limits.file_size_mb * MiB),
        (resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    if processes:
        wanted.append((resource.RLIMIT_NPROC, limits.processes, limits.processes))
    for kind, soft, hard in wanted:
        _, current_hard = resource.getrlimit(kind)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(kind, (soft, hard))


@dataclass(frozen=True)
class Sandbox:
    """The containment this machine allows, decided once per batch."""

    kind: SandboxKind
    bwrap: str | None = None
    warning: str = ""
    uids: tuple[int, ...] = field(default=())
    """A uid per job slot when running as root; empty when the child keeps the caller's."""
    lease: uid_leases.UidLease | None = field(default=None, compare=False, repr=False)
    """Holds :attr:`uids` for this batch alone until :meth:`release`."""

    @property
    def isolated(self) -> bool:
        """Whether the child runs inside bubblewrap."""
        return self.bwrap is not None

    def uid_for(self, slot: int) -> int | None:
        """The uid the child of job slot ``slot`` drops to, or None."""
        return self.uids[slot % len(self.uids)] if self.uids else None

    def release(self) -> None:
        """End of the batch: give the job slots' uids back."""
        if self.lease is not None:
            self.lease.release()


def detect(mode: Mode, jobs: int, hidden: Sequence[Path]) -> Sandbox:
    """Probe bubblewrap (unless ``mode`` is NONE) and pick the job slots' uids.

    Raises RuntimeError when ``mode`` is BWRAP and bubblewrap cannot run, or when running
    as root and no uids can be leased. The caller calls :meth:`Sandbox.release` at the end.
    """
    reason = "containment was turned off (--sandbox=none)"
    if mode is not Mode.NONE:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            reason = "bubblewrap (bwrap) is not installed"
        else:
            reason = _probe_bwrap(bwrap, hidden)
            if not reason:
                lease = uid_leases.lease(jobs) if os.geteuid() == 0 else None
                return Sandbox(
                    SandboxKind.BUBBLEWRAP, bwrap, "", lease.uids if lease else (), lease
                )
        if mode is Mode.BWRAP:
            raise RuntimeError(f"--sandbox=bwrap: {reason}")
    warning = (
        f"{reason}: submissions run with resource limits only; they can read what the "
        "grader can read (reference solutions, checks), reach the network and write outside "
        "their scratch folder. Install bubblewrap (apt-get install bubblewrap) for CI scoring."
    )
    lease = uid_leases.lease(jobs) if os.geteuid() == 0 else None
    if lease is not None and not interpreter_reachable(lease.uids[0]):
        warning += " The interpreter is not readable by other users, so the child runs as root."
        lease.release()
        lease = None
    return Sandbox(SandboxKind.RLIMITS, None, warning, lease.uids if lease else (), lease)


def _probe_bwrap(bwrap: str, hidden: Sequence[Path]) -> str:
    """'' when bubblewrap can start the interpreter with our mounts, else why not."""
    command = [
        *bwrap_prefix(bwrap, hidden=hidden, submission=None, scratch_mb=16),
        sys.executable,
        "-I",
        "-c",
        "import pytest_tutorial.grading.child",
    ]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not be started ({error})"
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()[-1:]
        return f"bubblewrap does not work here ({'; '.join(detail) or completed.returncode})"
    return ""


def interpreter_reachable(uid: int) -> bool:
    """Whether ``uid`` can start this interpreter and import pytest and this package."""
    try:
        completed = subprocess.run(
            [sys.executable, "-I", "-c", "import pytest, pytest_tutorial"],
            user=uid,
            group=uid,
            extra_groups=[],
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            cwd="/",
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return completed.returncode == 0


def _covered(path: Path, chosen: Iterable[Path]) -> bool:
    return any(path == other or path.is_relative_to(other) for other in chosen)


def readable_roots() -> list[Path]:
    """The folders the child must read: the interpreter, its libraries, this package."""
    import pytest_tutorial

    candidates = [
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.exec_prefix),
        Path(os.path.realpath(sys.executable)).parent.parent,
        *(Path(value) for key, value in sysconfig.get_paths().items() if "include" not in key),
        Path(pytest_tutorial.__file__).resolve().parent,
    ]
    chosen: list[Path] = [Path("/usr")]
    for path in sorted({c.resolve() for c in candidates if c.exists()}, key=lambda p: len(p.parts)):
        if not _covered(path, chosen) and path != Path("/"):
            chosen.append(path)
    return chosen[1:]


class BwrapCommand:
    """Bubblewrap's command line, built up: the system's read-only view, then mounts.

    The view is the same for every sandboxed process of a batch: new PID, network, IPC and
    UTS namespaces, ``/usr``, the system links and a few ``/etc`` files, ``/proc``, ``/dev``,
    a small tmpfs ``/tmp``, and read-only the interpreter, its libraries and this package.
    As root the process keeps only ``capabilities`` (what it needs to drop to its own uid);
    otherwise it runs in a user namespace of the caller's uid.
    """

    def __init__(self, bwrap: str, *, scratch_mb: int, capabilities: Sequence[str]) -> None:
        args = [
            bwrap,
            "--die-with-parent",
            "--new-session",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--hostname",
            "grader",
        ]
        if os.geteuid() == 0:
            args += ["--cap-drop", "ALL"]
            for capability in capabilities:
                args += ["--cap-add", capability]
        else:
            args += ["--unshare-user", "--disable-userns"]
        args += ["--ro-bind", "/usr", "/usr"]
        for name in SYSTEM_LINKS:
            if os.path.islink(name):
                args += ["--symlink", os.readlink(name), name]
            elif os.path.isdir(name):
                args += ["--ro-bind", name, name]
        for name in ETC_FILES:
            args += ["--ro-bind-try", name, name]
        args += ["--proc", "/proc", "--dev", "/dev"]
        # /tmp is a small tmpfs of its own, mounted before the read-only roots so that an
        # interpreter or a checkout that lives under /tmp can still be bound inside it.
        args += ["--perms", "1777", "--size", str(scratch_mb * MiB), "--tmpfs", "/tmp"]
        self.args = args
        self._bound: list[Path] = [Path("/usr")]
        self._made: set[Path] = set()
        for root in readable_roots():
            self.bind(root, writable=False)

    def bind(self, path: Path, *, writable: bool) -> None:
        """Make ``path`` of the host visible at the same place."""
        self.args += _parents(path, self._bound, self._made)
        self.args += ["--bind" if writable else "--ro-bind", str(path), str(path)]
        self._bound.append(path)

    def hide(self, path: Path) -> None:
        """Cover ``path`` with an empty tmpfs (a tutorial's checks, known bugs, references)."""
        self.args += _parents(path, self._bound, self._made)
        self.args += ["--perms", "0755", "--tmpfs", str(path)]
        self._bound.append(path)

    def finish(self, chdir: Path) -> list[str]:
        """The command line up to (not including) the command it runs, started in ``chdir``."""
        return [*self.args, "--chdir", str(chdir), "--"]


CHILD_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN")
"""As root, only what the child needs before it drops to its own uid after collection."""
WORKER_PARENT_CAPABILITIES = (
    *CHILD_CAPABILITIES,
    "CAP_KILL",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_SYS_PTRACE",
)
"""A child whose learner processes run under the slot's uid keeps root's uid, and needs to
stop those processes and clean up the folders they wrote, and to read which system call
their threads wait in (:mod:`pytest_tutorial.stillness`; ``/proc/PID/syscall`` asks for
ptrace access)."""


def child_capabilities(*, in_workers: bool) -> tuple[str, ...]:
    """What a grading child keeps of root's capabilities inside bubblewrap."""
    return WORKER_PARENT_CAPABILITIES if in_workers else CHILD_CAPABILITIES


def bwrap_prefix(
    bwrap: str,
    *,
    hidden: Sequence[Path],
    submission: Path | None,
    scratch_mb: int,
    capabilities: Sequence[str] = CHILD_CAPABILITIES,
    shared: Sequence[Path] = (),
) -> list[str]:
    """Bubblewrap's command line for a grading child, up to the command it runs.

    ``shared``: host folders bound writable at the same path (a job slot's socket folder).
    """
    command = BwrapCommand(bwrap, scratch_mb=scratch_mb, capabilities=capabilities)
    for root in hidden:
        command.hide(root)
    for folder in shared:
        command.bind(folder, writable=True)
    args = command.args
    args += ["--perms", "0755", "--size", str(scratch_mb * MiB), "--tmpfs", str(SCRATCH)]
    # The checks look for a reference solution under the rootdir (the scratch folder) to
    # compare performance with: an empty read-only mount keeps the submission from planting one.
    from pytest_tutorial.options import REFERENCE_ROOT  # imports pytest: not at module level

    planted = str(SCRATCH / REFERENCE_ROOT)
    args += ["--perms", "0555", "--tmpfs", planted, "--remount-ro", planted]
    if submission is not None:
        args += ["--ro-bind", str(submission), str(SUBMISSION_SOURCE)]
    return command.finish(SCRATCH)


def _parents(target: Path, bound: list[Path], made: set[Path]) -> list[str]:
    """Create ``target``'s missing parents traversable (bubblewrap would make them 0700)."""
    args: list[str] = []
    for parent in reversed(target.parents):
        if parent != Path("/") and not _covered(parent, bound) and parent not in made:
            args += ["--perms", "0755", "--dir", str(parent)]
            made.add(parent)
    return args


def child_environment(scratch: Path, marker: str) -> dict[str, str]:
    """A clean environment: nothing of the grader's (no PYTEST_ADDOPTS, no tokens)."""
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin"])
        + ":/bin",
        "HOME": str(scratch / "home"),
        "TMPDIR": str(scratch / "tmp"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "CI": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "NO_COLOR": "1",
        "COLUMNS": "100",
        # glibc reserves 64 MiB of address space per thread arena: fewer arenas keep the
        # address-space limit about memory actually used.
        "MALLOC_ARENA_MAX": "2",
        MARKER_VARIABLE: marker,
    }


def child_interpreter() -> list[str]:
    """The child's interpreter, isolated (-I: no PYTHON* variables, no user site, no cwd)."""
    return [sys.executable, "-I", "-B", "-m", CHILD_MODULE]
