"""A whole tutorial run by this checkout against another version's source tree, interleaved.

On a shared machine the wall time of ``benchmarks/whole_tutorial.py`` moves with the load
and with the machine's speed from day to day; a change is judged by runs of the two
versions in turn. The other version is a source tree (``git worktree add /tmp/before
COMMIT``) run by this same interpreter with ``PYTHONPATH`` pointing at it, so both use the
same installed pytest, hypothesis, fakeredis and moto: only the code differs. Each round
runs ``pytest --tutorial=NAME --tutorial-solution=<this checkout's reference>`` once with
each version, in alternating order, from an empty folder; prints every run's wall and CPU
time (every process the run waited for, workers included) and result line, then the
medians and their ratios. ``--isolation worker`` runs the checks in worker mode, as
grading does, with the learner-tests checks left out (their runs are the same in both
modes): what worker mode adds.

    python benchmarks/tutorial_against.py /tmp/before [--tutorial caching] [--rounds 7] \
        [--fresh-runs | --isolation worker]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from _common import REPO, compile_bytecode, interleaved_runs, machine, source_tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("other", type=Path, help="the other version's source tree")
    parser.add_argument("--tutorial", default="caching")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--fresh-runs", action="store_true", help="--tutorial-fresh-runs")
    parser.add_argument("--isolation", choices=("process", "worker"), default="process")
    options = parser.parse_args()
    other = source_tree(options.other)
    compile_bytecode(other)  # as machine() does for this checkout
    arguments = [
        f"--tutorial={options.tutorial}",
        f"--tutorial-solution={REPO / 'reference_solutions' / options.tutorial}",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    if options.fresh_runs:
        arguments.append("--tutorial-fresh-runs")
    if options.isolation == "worker":
        arguments += ["--tutorial-isolation=worker", "-k", "not own_tests"]
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    print(f"machine: {machine()}")
    mode = " (fresh runs)" if options.fresh_runs else ""
    mode += " in worker mode" if options.isolation == "worker" else ""
    print(f"tutorial: {options.tutorial}{mode}")
    with tempfile.TemporaryDirectory(prefix="tutorial-against-") as name:
        versions = {
            "this checkout": (Path(name), {**base, "PYTHONPATH": str(REPO)}),
            "other": (Path(name), {**base, "PYTHONPATH": str(other)}),
        }
        interleaved_runs(arguments, versions, options.rounds, accepted=(0,))


if __name__ == "__main__":
    main()
