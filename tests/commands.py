"""Run the ``pytest-tutorial`` command line in a child process, as a learner's shell does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def environment() -> dict[str, str]:
    """The caller's environment without pytest options meant for the project's own run.

    Nor the terminal size pytest-xdist's workers set (``COLUMNS=80``): a command's output
    must read the same under ``-n 2`` as in a serial run.
    """
    env = dict(os.environ)
    for name in ("PYTEST_ADDOPTS", "COLUMNS", "LINES"):
        env.pop(name, None)
    return env


def cli(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``pytest-tutorial ARGS`` in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "pytest_tutorial", *args],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def verify(
    cwd: Path, *args: str, output: Path | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run verify with --json; the process and the JSON."""
    target = output or cwd / "verify.json"
    result = cli(cwd, "verify", *args, "--json", str(target))
    assert target.is_file(), result.stdout + result.stderr
    return result, json.loads(target.read_text(encoding="utf-8"))


def steps(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The first tutorial's steps by name."""
    return {step["name"]: step for step in document["tutorials"][0]["steps"]}
