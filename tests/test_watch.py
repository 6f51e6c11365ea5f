"""``pytest-tutorial watch``: real file changes trigger runs; a syntax error does not stop it."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.commands import environment
from tests.mini_course import REFERENCE, make_course

WAIT_S = 60.0


def _screens(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def next_screen(lines: queue.Queue[str | None]) -> list[str]:
    """The lines of one run's screen, up to its closing "watching ..." line."""
    screen: list[str] = []
    deadline = time.monotonic() + WAIT_S
    while True:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        assert line is not None, "watch ended early:\n" + "\n".join(screen)
        screen.append(line)
        if line.startswith("watching "):
            return screen


def _save(path: Path, text: str) -> None:
    """Save as an editor does, in one step: a watcher never sees a half-written file.

    The partial file ends in ``~``, a backup name watchfiles' default filter ignores.
    """
    partial = path.with_name(path.name + "~")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


@pytest.mark.slow
def test_saving_a_file_reruns_the_checks_through_a_syntax_error(tmp_path: Path) -> None:
    course = make_course(tmp_path)
    code = course / "exercises" / "mini" / "mini.py"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest_tutorial",
            "watch",
            "mini",
            "--max-runs",
            "3",
            "--no-clear",
            "--debounce",
            "50",
            "--pytest-arg=-p",
            "--pytest-arg=no:randomly",
        ],
        cwd=course,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_screens, args=(process, lines), daemon=True)
    reader.start()
    try:
        first = next_screen(lines)
        assert first[0].startswith("pytest-tutorial watch mini: run 1 at ")
        assert "Validation Checklist  [------------] 0/2 items passed" in first
        failure = "test_clamps: NotImplementedError: clamp is not implemented yet"
        assert any(failure in line for line in first)
        assert any(line.strip() == "hint: return low below the range, high above" for line in first)

        _save(code, "def clamp(value, low, high)\n    return value\n")
        second = next_screen(lines)
        assert second[0].startswith("pytest-tutorial watch mini: run 2 at ")
        assert "changed: mini.py" in second
        assert any("SyntaxError" in line and "mini.py" in line for line in second), second

        _save(code, REFERENCE)
        third = next_screen(lines)
        assert "Validation Checklist  [############] 2/2 items passed" in third
        core = next(line for line in third if " core " in line)
        assert core.split()[0] == "NEW"
        assert "first passed " in core
        assert "verdict: VALIDATED  score 3/3" in third
        assert process.wait(timeout=WAIT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=WAIT_S)
        assert process.stdout is not None
        process.stdout.close()
    assert (course / ".pytest-tutorial" / "progress.json").is_file()
    assert sorted(p.name for p in code.parent.iterdir()) == ["mini.py"]
