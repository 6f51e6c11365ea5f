"""Part of the project's suite run by this checkout and by another version's tree, interleaved.

``slow_tier.py`` times the whole tier once; on a shared machine whose speed moves by a
third within an hour, two such runs made one after the other cannot judge a change to
the suite or to what its tests run. Here each round runs ``pytest -m slow tests/ -k EXPR``
(every test module collected, as CI's workers do) in each tree in turn, alternating the
order, in the suite's environment, with ``PYTHONPATH`` pointing at that tree so its workers
and children import its code too; prints every run's wall and CPU time (every process the
run waited for) and result line, then the medians and their ratios. More pytest arguments
go after ``--`` (``-- -n 4 --dist loadscope`` for CI's workers).

    python benchmarks/suite_against.py /tmp/before -k "test_caching_variants" [--rounds 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import (
    REPO,
    compile_bytecode,
    interleaved_runs,
    machine,
    source_tree,
    suite_environment,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("other", type=Path, help="the other version's source tree")
    parser.add_argument("-k", dest="selection", required=True, help="pytest's -k expression")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("extra", nargs="*", help="more pytest arguments (after --)")
    options = parser.parse_intermixed_args()  # the positional tree, then -k, then after --
    other = source_tree(options.other)
    compile_bytecode(other)  # as machine() does for this checkout
    arguments = ["-m", "slow", "tests/", "-k", options.selection, "-q", "-p", "no:randomly"]
    arguments += ["-p", "no:cacheprovider", *options.extra]
    base = {k: v for k, v in suite_environment().items() if k != "PYTHONPATH"}
    print(f"machine: {machine()}")
    print(f"selection: -k {options.selection!r} {' '.join(options.extra)}".rstrip())
    versions = {
        "this checkout": (REPO, {**base, "PYTHONPATH": str(REPO)}),
        "other": (other, {**base, "PYTHONPATH": str(other)}),
    }
    interleaved_runs(arguments, versions, options.rounds)


if __name__ == "__main__":
    main()
