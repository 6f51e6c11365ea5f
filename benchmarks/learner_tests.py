"""The cost of the ``tests`` item: the learner's own tests, run by the harness.

Prints, for the caching reference, the median wall time of one batch of runs as the item
makes it (3 against the solution, the control, 2 known bugs, 4 hidden bugs: 10 runs in one
child per core) and of the batch without control and hidden bugs (the 5 runs the item made
before hidden bugs), measured interleaved, then the median of whole runs of
``pytest --tutorial=caching --tutorial-solution=reference -q``.

    python benchmarks/learner_tests.py [--runs 5]
"""

from __future__ import annotations

import argparse
import time

from _common import REPO, machine, median, timed_run

from pytest_tutorial.discovery import BUNDLED_ROOT
from pytest_tutorial.hidden_bugs import load_pool, sample, source_of
from pytest_tutorial.known_bugs import load_known_bad
from pytest_tutorial.learner_layout import solution_layout
from pytest_tutorial.learner_model import Implementation, Kind
from pytest_tutorial.learner_tests import run_many

WHOLE_RUN = ["--tutorial=caching", "--tutorial-solution=reference", "-q"]


def batches() -> tuple[list[tuple[Implementation, int]], list[tuple[Implementation, int]]]:
    """The item's batch of jobs for the caching tutorial, and the batch without the new runs."""
    known = load_known_bad(BUNDLED_ROOT / "caching")
    assert known is not None
    pool = load_pool(BUNDLED_ROOT / "caching", known)
    yours = [(Implementation(Kind.YOURS), seed) for seed in (1, 2, 3)]
    bugs = [
        (Implementation(Kind.KNOWN, b.name, "", known.build(flags=b.flags)), 1) for b in known.bugs
    ]
    extra = [(Implementation(Kind.CONTROL, source=known.build()), 1)]
    extra += [
        (Implementation(Kind.HIDDEN, str(bug.index), "", source_of(known, bug)), 1)
        for bug in sample(pool, "caching", "1.0")
    ]
    return yours + extra + bugs, yours + bugs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(f"machine: {machine()}")
    layout = solution_layout(REPO / "reference_solutions" / "caching", "cache_service")
    full, old = batches()
    times: dict[int, list[float]] = {len(full): [], len(old): []}
    for _ in range(runs):
        for jobs in (full, old):
            started = time.perf_counter()
            results = run_many(layout, jobs)
            times[len(jobs)].append(time.perf_counter() - started)
            assert all(run.finished for run in results)
    for count, values in times.items():
        print(f"batch of {count} runs: median {median(values):.2f} s over {runs}")
    ratio = median(times[len(full)]) / median(times[len(old)])
    print(f"ratio {len(full)} runs / {len(old)} runs: {ratio:.2f}")
    whole = [timed_run(WHOLE_RUN, cwd=REPO) for _ in range(runs)]
    spread = f"min {min(whole):.2f}, max {max(whole):.2f}"
    print(f"whole caching run: median {median(whole):.2f} s ({spread})")


if __name__ == "__main__":
    main()
