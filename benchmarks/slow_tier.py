"""The slow tier: wall and CPU time of CI's ``pytest -m "slow and not wheel"`` over 4 workers.

Prints each run's wall time, CPU time and load averages, then where the time went by test
file and by test (from ``--durations=0``: set-up, call and teardown summed over both
workers), and each file's CPU time (``benchmarks/cpu_by_test.py``: a test's process and the
processes it waited for). The CPU time is that of every process the run waited for: it
leaves out what ran inside bubblewrap (the graded submissions of the adversarial corpus and
of the grading tests), whose usage does not reach the run. A run with failed tests still
prints its figures, after pytest's summary line that says so: on a loaded machine a
timing-bound test can fail, and minutes of measurement are kept. Target: the whole suite
(fast tier, slow tier) under 4 minutes on a quiet 2-core machine; ``--whole`` runs it in
one command (``-m "not wheel"``: both tiers over the same 4 workers, the wheel tests left
to ``.ci/wheel`` as in CI). A run takes minutes; ``--runs`` above 1 gives a median.

    python benchmarks/slow_tier.py [--whole] [--runs 1] [--top 15] [-- EXTRA PYTEST ARGUMENTS]
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from collections import defaultdict
from pathlib import Path

from _common import REPO, machine, measured_run, median, suite_environment

TARGET_S = 240.0
SLOW_TIER = ["-m", "slow and not wheel"]
WHOLE_SUITE = ["-m", "not wheel"]
RUN = ["-n", "4", "--dist", "loadscope"]
RUN += ["--durations=0", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
RUN += ["-p", "benchmarks.cpu_by_test"]
CPU_BY_TEST = "TUTORIAL_BENCH_CPU_BY_TEST"
"""The variable naming the file where ``benchmarks/cpu_by_test.py`` writes its figures."""
DURATION = re.compile(r"^([\d.]+)s (setup|call|teardown)\s+(\S+)")


def run_once(selection: list[str], extra: list[str], cpu_file: Path) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds and the terminal output of one run of ``selection``.

    Each test's CPU seconds go to ``cpu_file`` (see :func:`cpu_costs`).
    """
    env = suite_environment()
    env[CPU_BY_TEST] = str(cpu_file)
    return measured_run([*selection, *RUN, *extra], cwd=REPO, env=env, accepted=(0, 1))


def machine_cpu() -> tuple[float, float]:
    """Busy and idle CPU seconds of the whole machine so far, from ``/proc/stat``.

    Busy time counts every process, those in bubblewrap too (which the run's own figure
    leaves out); on a quiet machine it is the run's.
    """
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / ticks, idle / ticks


def cpu_costs(cpu_file: Path) -> dict[str, float]:
    """CPU seconds by test file, from the lines ``benchmarks/cpu_by_test.py`` wrote."""
    files: defaultdict[str, float] = defaultdict(float)
    for line in cpu_file.read_text(encoding="utf-8").splitlines():
        seconds, _, nodeid = line.partition(" ")
        files[nodeid.split("::")[0]] += float(seconds)
    return files


def costs(output: str) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds by test file and by test (parameters folded), from ``--durations=0``."""
    files: defaultdict[str, float] = defaultdict(float)
    tests: defaultdict[str, float] = defaultdict(float)
    for line in output.splitlines():
        found = DURATION.match(line)
        if found:
            seconds, nodeid = float(found[1]), found[3]
            files[nodeid.split("::")[0]] += seconds
            tests[nodeid.split("[")[0]] += seconds
    return files, tests


def summary(output: str) -> str:
    """pytest's last line (how many passed, failed, skipped) and the failed tests' ids."""
    lines = output.strip().splitlines() or ["(no output)"]
    failed = [line for line in lines if line.startswith("FAILED ")]
    return "\n  ".join([lines[-1].strip("= "), *failed])


def main() -> None:
    """Run the slow tier ``--runs`` times; print figures and the costliest files and tests."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whole", action="store_true", help="both tiers in one run")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("extra", nargs="*", help="more pytest arguments (after --)")
    options = parser.parse_args()
    print(machine())
    walls = []
    output = ""
    with tempfile.TemporaryDirectory(prefix="slow-tier-") as scratch:
        for number in range(1, options.runs + 1):
            cpu_file = Path(scratch) / f"cpu-{number}.txt"
            cpu_file.touch()
            selection = WHOLE_SUITE if options.whole else SLOW_TIER
            busy_before, idle_before = machine_cpu()
            wall, cpu, output = run_once(selection, options.extra, cpu_file)
            busy_after, idle_after = machine_cpu()
            walls.append(wall)
            load = " ".join(f"{value:.2f}" for value in os.getloadavg())
            print(f"run {number}: {wall:.1f} s wall, {cpu:.1f} s CPU (load average {load} after)")
            busy, idle = busy_after - busy_before, idle_after - idle_before
            print(f"  the machine meanwhile: {busy:.1f} s busy, {idle:.1f} s idle (/proc/stat)")
            print(f"  {summary(output)}")
        cpu_by_file = cpu_costs(cpu_file)
    what = "whole suite (both tiers)" if options.whole else "slow tier"
    print(f"{what}: median {median(walls):.1f} s of {options.runs} run(s)")
    files, tests = costs(output)
    print(f"test time over all workers (last run): {sum(files.values()):.0f} s")
    print(f"CPU time of the tests (last run): {sum(cpu_by_file.values()):.1f} s")
    tables = (("by file", files), ("by test", tests), ("CPU by file", cpu_by_file))
    for title, seconds_by_name in tables:
        print(title + ":")
        ranked = sorted(seconds_by_name.items(), key=lambda pair: -pair[1])
        for name, seconds in ranked[: options.top]:
            print(f"  {seconds:7.1f} s  {name}")
    print(f"(target: the whole suite under {TARGET_S:.0f} s on a quiet machine)")


if __name__ == "__main__":
    main()
