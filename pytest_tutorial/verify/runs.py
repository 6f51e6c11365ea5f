"""Run pytest in a child process for ``verify``: the probe, the reference, the starter, mutants.

Every run is a fresh ``python -m pytest`` in the course folder, so it sees the same ini
file, rootdir and plugins as an instructor's own ``pytest --tutorial=NAME``. Each child
runs in its own process group with a wall-clock limit (the whole group is killed past it),
with hypothesis derandomized (``CI=1``: the same mutant always gets the same verdict), no
bytecode written next to the code, and learner progress left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_tutorial import report_model
from pytest_tutorial.report_model import Report
from pytest_tutorial.verify.probe import PROBE_ENV

NO_PROGRESS_ENV = "PYTEST_TUTORIAL_NO_PROGRESS"
"""Set in child runs: verify's runs are not a learner's progress (see progress.py)."""
OUTPUT_TAIL = 4000


@dataclass(frozen=True)
class ChildRun:
    """How one child pytest ended."""

    exit_code: int | None
    """None when it was killed at the time limit."""
    duration_s: float
    output: str
    """The end of its stdout and stderr."""
    report: Report | None
    """The tutorial report it wrote, when it wrote one."""

    @property
    def timed_out(self) -> bool:
        """Whether it was killed at the time limit."""
        return self.exit_code is None

    @property
    def verdict(self) -> str | None:
        """The report's verdict, or None without a report."""
        return None if self.report is None else self.report["verdict"]

    def error_text(self) -> str:
        """Pytest's own ``ERROR:`` lines (usage errors), else the output's last lines."""
        lines = self.output.strip().splitlines()
        errors = [n for n, line in enumerate(lines) if line.startswith("ERROR:")]
        if errors:
            return "\n".join(lines[errors[0] :])[:OUTPUT_TAIL]
        return "\n".join(lines[-8:])


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child run: the caller's, plus verify's fixed settings."""
    env = dict(os.environ)
    env.update({"CI": "1", NO_PROGRESS_ENV: "1", "PYTHONDONTWRITEBYTECODE": "1"})
    env.update(extra or {})
    return env


def run_pytest(
    args: Sequence[str],
    *,
    cwd: Path,
    timeout_s: float | None,
    report: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ChildRun:
    """Run ``python -m pytest ARGS`` in ``cwd``; read ``report`` afterwards if given."""
    command = [sys.executable, "-m", "pytest", *args]
    if report is not None:
        report.unlink(missing_ok=True)
        command.append(f"--tutorial-report={report}")
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=dict(env) if env is not None else child_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout_s)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        _kill_group(process)
        output, _ = process.communicate()
        code = None
    finally:
        _kill_group(process)  # anything the run left behind
    text = output.decode("utf-8", errors="replace")[-OUTPUT_TAIL:]
    return ChildRun(code, time.perf_counter() - started, text, read_report(report))


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def read_report(path: Path | None) -> Report | None:
    """The report at ``path``, or None when there is none (or it is not a report)."""
    return None if path is None else report_model.read_report(path)


def probe(
    args: Sequence[str], *, cwd: Path, timeout_s: float = 120
) -> tuple[dict[str, Any], ChildRun]:
    """Run the probe plugin (:mod:`pytest_tutorial.verify.probe`) and return its answer."""
    with tempfile.TemporaryDirectory(prefix="pytest-tutorial-probe-") as folder:
        answer_path = Path(folder) / "answer.json"
        run = run_pytest(
            [
                "-p",
                "pytest_tutorial.verify.probe",
                "-p",
                "no:cacheprovider",
                "-q",
                f"--tutorial-report={Path(folder) / 'report.json'}",  # not the learner's report
                *args,
            ],
            cwd=cwd,
            timeout_s=timeout_s,
            env=child_environment({PROBE_ENV: str(answer_path)}),
        )
        answer: dict[str, Any] = {}
        if answer_path.is_file():
            answer = json.loads(answer_path.read_text(encoding="utf-8"))
    return answer, run
