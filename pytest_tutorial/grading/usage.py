"""What a grading child used (peak memory, CPU seconds), so a report can name what ended it.

:class:`Child` wraps the child's ``Popen``: it reaps the child itself with ``os.wait4``
(its resource figures) and, while it runs, samples the child's process tree from
``/proc`` (each process's peak resident set and CPU time). Sampling is needed because
bubblewrap's monitor process, the grader's direct child, does not wait for the processes
in the sandbox: its ``wait4`` figures cover only itself. A killed process cannot report
on itself, so the last sample (at most :data:`SAMPLE_EVERY_S` old) stands for it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pytest_tutorial.report_model import Usage as UsageEntry

SAMPLE_EVERY_S = 0.25
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_MAX_TREE = 2000
"""Processes sampled at most per round (a fork storm is bounded by its rlimit anyway)."""


@dataclass
class Usage:
    """Resource figures of one submission's processes."""

    peak_rss_kb: int = 0
    """The largest peak resident set of any one of its processes."""
    cpu_s: float = 0.0
    """User plus system CPU seconds of all its processes together."""
    process_cpu_s: float = 0.0
    """The most CPU seconds one process used (``RLIMIT_CPU`` counts per process)."""
    processes: int = 0
    """How many of its processes were seen."""
    seen: dict[tuple[int, int], float] = field(default_factory=dict, repr=False)

    def to_json(self) -> UsageEntry:
        """The ``usage`` block of the report's ``grading`` block."""
        return {
            "peak_rss_mb": round(self.peak_rss_kb / 1024, 1),
            "cpu_s": round(self.cpu_s, 2),
            "max_process_cpu_s": round(self.process_cpu_s, 2),
            "processes": self.processes,
        }

    def figures(self) -> str:
        """``peak RSS 312.4 MiB, CPU 8.12 s``: for the report's detail."""
        return f"peak RSS {self.peak_rss_kb / 1024:.1f} MiB, CPU {self.cpu_s:.2f} s"

    def add_process(self, key: tuple[int, int], cpu_s: float, peak_rss_kb: int) -> None:
        """Take one sample of one process (``key``: pid and start time)."""
        self.seen[key] = max(self.seen.get(key, 0.0), cpu_s)
        self.peak_rss_kb = max(self.peak_rss_kb, peak_rss_kb)
        self.cpu_s = max(self.cpu_s, sum(self.seen.values()))
        self.process_cpu_s = max(self.process_cpu_s, cpu_s)
        self.processes = len(self.seen)


class Watched(Protocol):
    """A grading child as the parent watches it.

    Started cold (:class:`Child`) or forked by a job slot's warm server
    (:class:`~.warm_slots.ForkedChild`).
    """

    usage: Usage

    @property
    def pid(self) -> int:
        """The pid of the child's process tree's root, as this process sees it."""
        ...

    @property
    def returncode(self) -> int | None:
        """Like ``Popen.returncode``: negative for a signal."""
        ...

    def poll(self) -> int | None:
        """The exit status once the child has ended, else None."""
        ...

    def wait(self, timeout: float | None) -> int | None:
        """Wait up to ``timeout`` seconds (None: for ever); the exit status or None."""
        ...

    def kill(self) -> None:
        """SIGKILL the child."""
        ...

    def sample(self, *, force: bool = False) -> None:
        """Record the figures of every process in the child's tree (at most so often)."""
        ...


class Child:
    """The grading child process: reaped with ``wait4``, its process tree sampled."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.usage = Usage()
        self._sampled_at = 0.0

    @property
    def pid(self) -> int:
        """The direct child's pid (bubblewrap's, inside a sandbox)."""
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        """Like ``Popen.returncode``: negative for a signal."""
        return self.process.returncode

    def poll(self) -> int | None:
        """The exit status once the child has ended (reaping it), else None."""
        if self.process.returncode is not None:
            return self.process.returncode
        try:
            pid, status, rusage = os.wait4(self.process.pid, os.WNOHANG)
        except ChildProcessError:
            return self.process.poll()
        if pid == 0:
            return None
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self.usage.peak_rss_kb = max(self.usage.peak_rss_kb, int(rusage.ru_maxrss))
        self.usage.cpu_s = max(self.usage.cpu_s, rusage.ru_utime + rusage.ru_stime)
        return self.process.returncode

    def wait(self, timeout: float | None) -> int | None:
        """Wait up to ``timeout`` seconds (None: for ever); the exit status or None."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(0.01)
        return code

    def kill(self) -> None:
        """SIGKILL the direct child."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    def sample(self, *, force: bool = False) -> None:
        """Record the figures of every process in the child's tree (at most so often)."""
        now = time.monotonic()
        if not force and now - self._sampled_at < SAMPLE_EVERY_S:
            return
        self._sampled_at = now
        if self.process.returncode is not None:
            return
        sample_tree(self.usage, self.process.pid)


def sample_tree(usage: Usage, root: int) -> None:
    """Add the figures of ``root`` and every process below it to ``usage``."""
    for pid in _tree(root):
        figures = _process_figures(pid)
        if figures is not None:
            usage.add_process(*figures)


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from ``/proc/PID/task/TID/children``."""
    found: list[int] = []
    pending = [root]
    while pending and len(found) < _MAX_TREE:
        pid = pending.pop()
        found.append(pid)
        with contextlib.suppress(OSError, ValueError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(n) for n in (task / "children").read_text().split()]
    return found


def _process_figures(pid: int) -> tuple[tuple[int, int], float, int] | None:
    """((pid, start time), CPU seconds, peak RSS in KiB) of one process, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    try:
        cpu = (int(fields[11]) + int(fields[12])) / _TICKS
        started = int(fields[19])
    except (IndexError, ValueError):
        return None
    peak = 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            with contextlib.suppress(IndexError, ValueError):
                peak = int(line.split()[1])
            break
    return (pid, started), cpu, peak


def oom_kills() -> int | None:
    """The machine's count of processes killed by the kernel's out-of-memory killer."""
    try:
        for line in Path("/proc/vmstat").read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None
