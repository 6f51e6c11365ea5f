"""Worker mode: a call's round trip to the worker, and a whole tutorial in both modes.

Prints the median round trip of one call of the learner's code through the channel
(target under 100 us) and the median wall time of ``pytest --tutorial=caching
--tutorial-solution=reference`` with ``--tutorial-isolation=worker`` against the default
``process`` mode, runs interleaved (target: within 1.3x).

    python benchmarks/worker_mode.py [--calls 5000] [--runs 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import REPO, machine, median, timed_run

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
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    print(machine())
    trip = median(round_trips(arguments.calls))
    print(
        f"round trip of one call: median {trip:.1f} us over {arguments.calls} calls "
        f"(target < {ROUND_TRIP_TARGET_US:g} us)"
    )
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        (cwd / "reference_solutions").symlink_to(REPO / "reference_solutions")
        process, worker = [], []
        for _ in range(arguments.runs):
            process.append(timed_run(RUN, cwd=cwd))
            worker.append(timed_run([*RUN, "--tutorial-isolation=worker"], cwd=cwd))
    ratio = median(worker) / median(process)
    print(
        f"caching reference, whole run: process {median(process):.2f} s, worker "
        f"{median(worker):.2f} s (medians of {arguments.runs}), ratio {ratio:.2f}x "
        f"(target <= {RATIO_TARGET:g}x)"
    )


if __name__ == "__main__":
    main()
