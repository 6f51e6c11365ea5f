"""Idle cost: a small unrelated suite with the plugin installed vs. with ``-p no:tutorial``.

The plugin is loaded by every pytest run in a learner's environment, so without
``--tutorial`` it must cost next to nothing. Runs alternate (A B B A ...) so machine drift
hits both sides; the verdict is the ratio of the medians. Target: <= 1.03.

    python benchmarks/idle_cost.py [--runs 12]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import machine, median, timed_run

TARGET = 1.03


def make_suite(folder: Path, files: int = 20, tests: int = 10) -> None:
    """``files`` modules of ``tests`` trivial tests each, and an empty ini file."""
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for index in range(files):
        body = "".join(
            f"def test_{index}_{n}():\n    assert {n} + 1 > {n}\n\n" for n in range(tests)
        )
        (folder / f"test_module_{index}.py").write_text(body, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=12, help="runs per side (default 12)")
    runs = parser.parse_args().runs
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="idle-cost-") as name:
        folder = Path(name)
        make_suite(folder)
        common = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
        with_plugin: list[float] = []
        without: list[float] = []
        timed_run(common, cwd=folder)  # warm the file system caches
        for index in range(runs):
            order = [(with_plugin, []), (without, ["-p", "no:tutorial"])]
            for bucket, extra in order if index % 2 == 0 else reversed(order):
                bucket.append(timed_run([*common, *extra], cwd=folder))
    a, b = median(with_plugin), median(without)
    ratio = a / b
    print(f"suite: 200 trivial tests, {runs} runs per side, interleaved")
    print(f"median with the plugin installed: {a * 1000:.1f} ms")
    print(f"median with -p no:tutorial:       {b * 1000:.1f} ms")
    print(f"ratio: {ratio:.3f} (target <= {TARGET}) -> {'MET' if ratio <= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
