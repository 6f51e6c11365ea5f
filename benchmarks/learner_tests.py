"""The cost of the ``tests`` item: the learner's own tests, run by the harness.

Prints, for a tutorial's reference (default caching), the median wall time of one batch of
runs as the item makes it (3 against the solution, then the control, the known bugs and
the hidden bugs drawn, the latter ending at their first failing test) and of the same
batch with every run made to the end, measured interleaved, with how many tests each ran;
then the median of whole runs of ``pytest --tutorial=NAME --tutorial-solution=reference
-q``.

    python benchmarks/learner_tests.py [--tutorial caching] [--runs 5]
"""

from __future__ import annotations

import argparse
import time

from _common import REPO, machine, median, timed_run

from pytest_tutorial.discovery import BUNDLED_ROOT
from pytest_tutorial.document import parse_tutorial
from pytest_tutorial.fixtures.learner import CONSISTENCY_SEEDS, EXITFIRST_KINDS
from pytest_tutorial.hidden_bugs import load_pool, sample, source_of
from pytest_tutorial.known_bugs import load_known_bad
from pytest_tutorial.learner_layout import solution_layout
from pytest_tutorial.learner_model import Implementation, Kind, LearnerTestRun
from pytest_tutorial.learner_tests import run_many
from pytest_tutorial.model import Tutorial


def batch(tutorial: Tutorial) -> list[tuple[Implementation, int]]:
    """The item's batch of jobs for ``tutorial``: the hidden bugs a run draws."""
    known = load_known_bad(tutorial.path.parent)
    assert known is not None
    pool = load_pool(tutorial.path.parent, known)
    jobs = [(Implementation(Kind.YOURS), seed) for seed in CONSISTENCY_SEEDS]
    jobs += [(Implementation(Kind.CONTROL, source=known.build()), 1)]
    jobs += [
        (Implementation(Kind.KNOWN, b.name, "", known.build(flags=b.flags)), 1) for b in known.bugs
    ]
    jobs += [
        (Implementation(Kind.HIDDEN, str(bug.index), "", source_of(known, bug)), 1)
        for bug in sample(pool, tutorial.id, tutorial.metadata.version)
    ]
    return jobs


def tests_ran(runs: list[LearnerTestRun]) -> str:
    """How many tests the runs against the control and the bugs ran, of how many."""
    made = [run for run in runs if run.implementation.kind is not Kind.YOURS]
    return f"{sum(run.collected for run in made)} tests in {len(made)} runs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tutorial", default="caching")
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    name, runs = options.tutorial, options.runs
    print(f"machine: {machine()}")
    tutorial = parse_tutorial(BUNDLED_ROOT / name / "tutorial.md", name)
    assert tutorial.validation is not None
    reference = REPO / "reference_solutions" / name
    layout = solution_layout(reference, tutorial.validation.solution.module)
    jobs = batch(tutorial)
    modes = {"first failure": EXITFIRST_KINDS, "to the end": frozenset[Kind]()}
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    for round_number in range(runs):
        order = list(modes) if round_number % 2 == 0 else list(modes)[::-1]
        for mode in order:
            started = time.perf_counter()
            results = run_many(layout, jobs, exitfirst=modes[mode])
            times[mode].append(time.perf_counter() - started)
            assert all(run.finished for run in results)
            if round_number == 0:
                print(f"{mode}: control and bugs ran {tests_ran(results)}")
    for mode, values in times.items():
        print(f"batch of {len(jobs)} runs, {mode}: median {median(values):.2f} s over {runs}")
    ratio = median(times["first failure"]) / median(times["to the end"])
    print(f"ratio first failure / to the end: {ratio:.2f}")
    whole_run = [f"--tutorial={name}", "--tutorial-solution=reference", "-q"]
    whole = [timed_run(whole_run, cwd=REPO) for _ in range(runs)]
    spread = f"min {min(whole):.2f}, max {max(whole):.2f}"
    print(f"whole {name} run: median {median(whole):.2f} s ({spread})")


if __name__ == "__main__":
    main()
