"""A whole tutorial: wall time of ``pytest --tutorial=NAME --tutorial-solution=reference``.

Prints the median of several runs (the issue's targets on a quiet 2-core machine: caching
and batch_processor <= 2 s, object_store <= 3 s, others 4 s), each as a learner reruns the
tutorial (the runs of the reference's own tests against the bugs kept from the warm-up
run) and with ``--tutorial-fresh-runs`` (every run made, as a first run or a graded
submission), interleaved, from the repository's root without its ``addopts`` (their
``-m "not slow"`` is a selection, after which a run starts its learner-tests server late,
as in no learner's folder), and then where the time of one run goes: the slowest checks
(pytest's ``--durations``) and a cProfile of the main process by cumulative time. The
learner's own tests run in child processes that overlap the other checks; they appear as
the wait of the ``tests`` checks.

    python benchmarks/whole_tutorial.py [--tutorial caching] [--runs 7]
"""

from __future__ import annotations

import argparse
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO, machine, medians, timed_run, timed_run_with_cpu

TARGET_S = {"caching": 2.0, "batch_processor": 2.0, "object_store": 3.0}
DEFAULT_TARGET_S = 4.0


PHASES = (
    ("plugin discovery (entry points of every installed package)", "load_setuptools_entrypoints"),
    ("tutorial activation (parse document, import hypothesis)", "activation.py:.*\\(activate\\)"),
    ("collection of the check modules", "main.py:.*\\(perform_collect\\)"),
    ("  of which the AWS sandbox's warm-up", "fixtures/aws.py:.*\\(pytest_collection_finish\\)"),
    ("running the checks", "main.py:.*\\(pytest_runtestloop\\)"),
    ("  of which waiting for the learner's own tests", "learner.py:.*\\(_all\\)"),
    ("  of which listing mutants (hidden bugs)", "mutation.py:.*\\(find_mutants\\)"),
    ("  of which hypothesis properties", "core.py:.*\\(wrapped_test\\)"),
    ("report and checklist", "session.py:.*\\(pytest_sessionfinish\\)"),
    ("pytest rewriting asserts, in every phase above", "rewrite.py:.*\\(_rewrite_test\\)"),
)


def _cumulative(stats: pstats.Stats, pattern: str) -> float:
    """Cumulative seconds of the first profiled function whose location matches ``pattern``."""
    import re

    for (filename, line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        if re.search(pattern, f"{filename}:{line}({name})"):
            return float(row[3])
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tutorial", default="caching")
    options = parser.parse_args()
    runs = options.runs
    target = TARGET_S.get(options.tutorial, DEFAULT_TARGET_S)
    run = [f"--tutorial={options.tutorial}", "--tutorial-solution=reference", "-q"]
    run += ["-p", "no:randomly", "-o", "addopts="]  # a learner's settings, not the repo's
    print(f"machine: {machine()}")
    print(f"tutorial: {options.tutorial}")
    # Every run must validate the reference: a run whose checks failed (a broken install, a
    # learner-tests server that cannot start) is not the time of a tutorial.
    timed_run(run, cwd=REPO, accepted=(0,))  # warm caches, and keep the runs against the bugs
    fresh = [*run, "--tutorial-fresh-runs"]
    measured: dict[str, list[tuple[float, float]]] = {"rerun": [], "fresh runs": []}
    for _ in range(runs):
        measured["rerun"].append(timed_run_with_cpu(run, cwd=REPO, accepted=(0,)))
        measured["fresh runs"].append(timed_run_with_cpu(fresh, cwd=REPO, accepted=(0,)))
    for label, pairs in measured.items():
        times = [wall for wall, _ in pairs]
        middle, cpu = medians(pairs)
        print(
            f"{label}: wall time over {runs} runs: median {middle:.2f} s (min "
            f"{min(times):.2f}, max {max(times):.2f}); CPU time (user + system, every "
            f"process) median {cpu:.2f} s; target <= {target} s -> "
            f"{'MET' if middle <= target else 'MISSED'}"
        )
    durations = subprocess.run(
        [sys.executable, "-m", "pytest", *run, "--durations=6"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    print("slowest checks:")
    for line in durations.splitlines():
        if " call " in line or " setup " in line:
            print(f"  {line.strip()}")
    with tempfile.TemporaryDirectory() as name:
        profile = Path(name) / "profile.out"
        subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "pytest", *run],
            cwd=REPO,
            capture_output=True,
            check=False,
        )
        stats = pstats.Stats(str(profile))
        total = stats.total_tt  # type: ignore[attr-defined]
        print(f"main process under cProfile: {total:.2f} s, by phase (cumulative):")
        for label, pattern in PHASES:
            print(f"  {label:<52} {_cumulative(stats, pattern):6.2f} s")


if __name__ == "__main__":
    main()
