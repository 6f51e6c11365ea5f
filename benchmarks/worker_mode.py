"""Worker mode: a call's round trip to the worker, and a whole tutorial in both modes.

Prints the median round trip of one call of the learner's code through the channel, for
each of several workers in turn (target under 100 us, in every one of them), and the
median wall time of ``pytest --tutorial=caching --tutorial-solution=reference`` with
``--tutorial-isolation=worker`` against the default ``process`` mode, runs interleaved
(target: within 1.3x), with the CPU time of each (the steadier figure on a busy machine).

    python benchmarks/worker_mode.py [--calls 5000] [--workers 5] [--runs 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import REPO, machine, median, medians, timed_run_with_cpu

ROUND_TRIP_TARGET_US = 100.0
RATIO_TARGET = 1.3
RUN = ["--tutorial=caching", "--tutorial-solution=reference", "-q", "-p", "no:randomly"]
LEARNER = '''"""A learner's module with one cheap method."""


class Service:
    """Answers at once."""

    def get(self, key):
        """Return the key."""
        return key
'''


def round_trips(calls: int) -> list[float]:
    """Microseconds of each of ``calls`` calls of a method that returns at once."""
    from pytest_tutorial.isolation import protocol
    from pytest_tutorial.isolation.remote import Worker

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "learner.py").write_text(LEARNER, encoding="utf-8")
        worker = Worker(cwd=folder)
        worker.start()
        try:
            module = worker.request(
                protocol.IMPORT, folder=folder, module="learner", exports=["Service"]
            )
            service = module.Service()
            for _ in range(200):  # warm-up
                service.get("k")
            samples = []
            for _ in range(calls):
                started = time.perf_counter_ns()
                service.get("k")
                samples.append((time.perf_counter_ns() - started) / 1000)
            return samples
        finally:
            worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    print(machine())
    trips = [median(round_trips(arguments.calls)) for _ in range(arguments.workers)]
    print(
        f"round trip of one call: medians {', '.join(f'{trip:.1f}' for trip in trips)} us "
        f"({arguments.calls} calls to each of {arguments.workers} workers in turn), worst "
        f"{max(trips):.1f} us (target < {ROUND_TRIP_TARGET_US:g} us in each)"
    )
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        (cwd / "reference_solutions").symlink_to(REPO / "reference_solutions")
        process, worker = [], []
        for _ in range(arguments.runs):
            process.append(timed_run_with_cpu(RUN, cwd=cwd))
            worker.append(timed_run_with_cpu([*RUN, "--tutorial-isolation=worker"], cwd=cwd))
    for what, ours, theirs in zip(("wall", "CPU"), medians(worker), medians(process), strict=True):
        print(
            f"caching reference, whole run, {what} time: process {theirs:.2f} s, worker "
            f"{ours:.2f} s (medians of {arguments.runs}), ratio {ours / theirs:.2f}x"
            + (f" (target <= {RATIO_TARGET:g}x)" if what == "wall" else "")
        )


if __name__ == "__main__":
    main()
