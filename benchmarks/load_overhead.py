"""Measurement overhead: the load runner firing a no-op callable.

What the harness adds to each request is what a no-op measures: the timed span (two
``perf_counter_ns`` calls around the call) and the loop around it (taking the next request
number, appending the sample). Target: <= 5 us per request at concurrency 1 and 10.

    python benchmarks/load_overhead.py [--requests 100000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import machine, median

from pytest_tutorial.load import run_load

TARGET_US = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    arguments = parser.parse_args()
    print(f"machine: {machine()}")
    for concurrency in (1, 10):
        spans, walls = [], []
        for _ in range(arguments.repeats):
            result = run_load(lambda: None, requests=arguments.requests, concurrency=concurrency)
            spans.append(result.p50_ms * 1000)
            walls.append(result.wall_s / arguments.requests * 1e6)
        span, wall = median(spans), median(walls)
        verdict = "MET" if wall <= TARGET_US else "MISSED"
        print(
            f"concurrency {concurrency:>2}: timed span of a no-op (p50) {span:.3f} us; "
            f"harness cost per request (wall / requests) {wall:.3f} us; "
            f"ratio to the {TARGET_US:g} us target {wall / TARGET_US:.3f} -> {verdict}"
        )


if __name__ == "__main__":
    main()
