"""The fast tier: wall time of the README's test command (``pytest``, unmarked tests only).

Prints the median of several runs (target: under 90 s on a quiet 2-core machine) and the
load average, which says how quiet the machine was. The fast tier is the loop a developer
keeps while changing code; a test that needs more belongs in the slow tier.

    python benchmarks/fast_tier.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os

from _common import REPO, machine, median, suite_environment, timed_run

TARGET_S = 90.0
RUN = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider"]


def main() -> None:
    """Run the fast tier ``--runs`` times; print each wall time and the median."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    print(machine())
    env = suite_environment()
    times = []
    for number in range(1, runs + 1):
        times.append(timed_run(RUN, cwd=REPO, env=env))
        load = os.getloadavg()[0]
        print(f"run {number}: {times[-1]:.1f} s (load average {load:.2f} after)")
    middle = median(times)
    verdict = "within" if middle <= TARGET_S else "OVER"
    print(f"fast tier: median {middle:.1f} s of {runs} runs, {verdict} the {TARGET_S:.0f} s target")


if __name__ == "__main__":
    main()
