"""``watch``: time from saving a solution file to the checklist on the screen.

Starts ``pytest-tutorial watch NAME`` on a copy of the tutorial's reference in a scratch
folder, waits for the first checklist, then saves the solution's module several times (the
same text, written as an editor does) and measures each save until the next screen is
complete. Prints the median (target for caching: <= 1.5 s). The watcher's debounce (given
with ``--debounce``, default 50 ms here) is part of every figure.

    python benchmarks/watch_save.py [--tutorial caching] [--saves 7]
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import REPO, machine, median

TARGET_S = {"caching": 1.5}
MODULES = {
    "caching": "cache_service.py",
    "batch_processor": "batch_processor.py",
    "object_store": "document_store.py",
    "rate_limiter": "rate_limiter.py",
}
SCREEN_END = "watching "
"""The last line of every screen."""
WAIT_S = 120.0


def _lines(process: subprocess.Popen[str], lines: queue.Queue[tuple[float, str]]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put((time.perf_counter(), line))


def _screen_end(lines: queue.Queue[tuple[float, str]]) -> float:
    """When the next screen's last line arrived."""
    while True:
        arrived, line = lines.get(timeout=WAIT_S)
        if line.startswith(SCREEN_END):
            return arrived


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tutorial", default="caching", choices=sorted(MODULES))
    parser.add_argument("--saves", type=int, default=7)
    parser.add_argument("--debounce", type=int, default=50)
    options = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="watch-benchmark-") as name:
        folder = Path(name)
        solution = folder / "solution"
        shutil.copytree(REPO / "reference_solutions" / options.tutorial, solution)
        module = solution / MODULES[options.tutorial]
        text = module.read_text(encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "pytest_tutorial",
            "watch",
            options.tutorial,
            f"--solution={solution}",
            "--no-clear",
            f"--debounce={options.debounce}",
            "--pytest-arg=-p",
            "--pytest-arg=no:randomly",
        ]
        process = subprocess.Popen(
            command,
            cwd=folder,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=_lines, args=(process, lines), daemon=True).start()
        try:
            started = time.perf_counter()
            first = _screen_end(lines) - started
            times = []
            for _ in range(options.saves):
                threading.Event().wait(0.5)  # let the watcher settle
                partial = module.with_name(module.name + "~")
                partial.write_text(text, encoding="utf-8")
                saved = time.perf_counter()
                os.replace(partial, module)
                times.append(_screen_end(lines) - saved)
        finally:
            process.terminate()
            process.wait(timeout=30)
    middle = median(times)
    target = TARGET_S.get(options.tutorial)
    verdict = (
        ""
        if target is None
        else f"; target <= {target} s -> " + ("MET" if middle <= target else "MISSED")
    )
    print(f"{options.tutorial}: first screen after {first:.2f} s")
    print(
        f"save to checklist over {options.saves} saves: median {middle:.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f}){verdict}"
    )


if __name__ == "__main__":
    main()
