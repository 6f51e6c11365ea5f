"""How a worker process ended: its exit status and figures, reaped by the trusted side.

A worker that ends during a check fails that check with a message saying how it ended.
:func:`reap` collects the status with ``os.wait4`` (the worker's CPU time and peak memory
come with it), so a grader's launcher can name the resource limit that ended it
(:meth:`~pytest_tutorial.isolation.launcher.Launcher.describe_exit`); without a launcher
:func:`plain_description` says what the status says.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass

REAP_WITHIN_S = 1.0
"""How long a worker whose channel closed may take to exit before it is called running."""


@dataclass(frozen=True)
class WorkerExit:
    """A worker's end, as ``os.wait4`` saw it."""

    returncode: int | None
    """Like ``Popen.returncode``: negative for a signal; None if it had not exited yet."""
    cpu_s: float = 0.0
    """User plus system CPU seconds the worker used."""
    peak_rss_kb: int = 0
    """Its peak resident set."""

    @property
    def signal_name(self) -> str | None:
        """The name of the signal that ended it, if one did."""
        if self.returncode is None or self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:
            return f"signal {-self.returncode}"


def reap(process: subprocess.Popen[bytes], within_s: float = REAP_WITHIN_S) -> WorkerExit:
    """Wait up to ``within_s`` for ``process`` to exit; its status and figures."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        except ChildProcessError:  # reaped already (Popen.poll): the status without figures
            return WorkerExit(process.returncode)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return WorkerExit(
                process.returncode, usage.ru_utime + usage.ru_stime, int(usage.ru_maxrss)
            )
        if time.monotonic() >= deadline:
            return WorkerExit(None)
        time.sleep(0.01)


def plain_description(end: WorkerExit) -> str:
    """What the status says, where no limits are known (a learner's own machine)."""
    if end.returncode is None:
        return "it had not exited a second after closing its channel"
    name = end.signal_name
    if name is not None:
        return f"it was killed by {name}"
    if end.returncode == 0:
        return "it exited with status 0 (os._exit, or sys.exit outside a call?)"
    return f"it exited with status {end.returncode}"
