"""Helpers shared by the benchmark scripts: timing subprocesses and printing figures."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed_run(
    arguments: list[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    accepted: tuple[int, ...] = (0, 1),
) -> float:
    """Wall seconds of ``python -m pytest ARGUMENTS`` in ``cwd``; fails loudly on a crash."""
    return timed_run_with_cpu(arguments, cwd=cwd, env=env, accepted=accepted)[0]


def timed_run_with_cpu(
    arguments: list[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    accepted: tuple[int, ...] = (0, 1),
) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, of the run and every process it waited for).

    CPU time is the steadier figure on a shared machine: it does not grow with the load.
    ``accepted``: the exit statuses that make a measurement (see :func:`measured_run`).
    """
    elapsed, cpu, _ = measured_run(arguments, cwd=cwd, env=env, accepted=accepted)
    return elapsed, cpu


def measured_run(
    arguments: list[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    accepted: tuple[int, ...] = (0, 1),
) -> tuple[float, float, str]:
    """Wall and CPU seconds and the output of ``python -m pytest ARGUMENTS`` in ``cwd``.

    An exit status outside ``accepted`` ends the script with the run's output.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", *arguments],
        cwd=cwd,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if completed.returncode not in accepted:
        raise SystemExit(
            f"pytest exited {completed.returncode}:\n{completed.stdout[-3000:]}"
            f"{completed.stderr[-2000:]}"
        )
    return elapsed, cpu, completed.stdout


def median(values: list[float]) -> float:
    """The median, for figures quoted from one run of a script."""
    return statistics.median(values)


def medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The median wall time and the median CPU time of (wall, CPU) measurements."""
    return median([wall for wall, _ in runs]), median([cpu for _, cpu in runs])


def compile_bytecode(tree: Path = REPO) -> None:
    """Compile a source tree's package, as installing it does (``compileall``).

    An editable install compiles nothing, and where ``PYTHONDONTWRITEBYTECODE`` is set (these
    machines) no run writes bytecode either: each process a run starts then compiles the
    package afresh, about 0.7 s of CPU in a caching run. Measured with and without, the
    figures differ by that much from one checkout to the next; every script compiles first,
    so its figures are those of an installed package.
    """
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(tree / "pytest_tutorial")],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def suite_environment() -> dict[str, str]:
    """The environment the project's suite runs in, as ``.ci/run`` runs it.

    Without ``PYTEST_ADDOPTS`` (the script picks the tier), and without
    ``PYTHONDONTWRITEBYTECODE``: the suite writes bytecode, as on a developer's machine, so
    pytest keeps its rewrites of the check modules that each in-process tutorial run imports.
    """
    return environment_without("PYTEST_ADDOPTS", "PYTHONDONTWRITEBYTECODE")


def environment_without(*names: str) -> dict[str, str]:
    """This process's environment less the variables ``names``, for a script's children."""
    return {key: value for key, value in os.environ.items() if key not in names}


CALIBRATION_IMPORTS = "import pytest, hypothesis, fakeredis, boto3, moto"
"""The calibration's workload: what every tutorial run, warm server and worker pays first."""
CALIBRATION_RUNS = 5


def start_up_calibration(runs: int = CALIBRATION_RUNS) -> float:
    """The median CPU seconds of a fresh interpreter importing :data:`CALIBRATION_IMPORTS`.

    The same machine runs this 1.4x to 1.5x slower on some days than on others while a
    pure-Python loop takes the same time: the targets' runs are start-ups, imports and forks,
    so this figure, printed beside every result, says which kind of day a figure is from.
    """
    seconds = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [sys.executable, "-c", CALIBRATION_IMPORTS],
            check=True,
            env=environment_without("PYTHONDONTWRITEBYTECODE"),
            stdin=subprocess.DEVNULL,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return median(seconds)


def machine() -> str:
    """A one-line description of the machine, printed with every result.

    It compiles this checkout's bytecode first (:func:`compile_bytecode`), then measures the
    machine's speed at start-ups (:func:`start_up_calibration`).
    """
    compile_bytecode()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    calibration = start_up_calibration()
    return (
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, load average {load:.2f} at "
        f"start, package bytecode compiled, start-up calibration {calibration * 1000:.0f} ms "
        f"of CPU (median of {CALIBRATION_RUNS} interpreters: {CALIBRATION_IMPORTS})"
    )


def source_tree(path: Path) -> Path:
    """``path`` resolved, once it is checked to be a source tree of pytest-tutorial."""
    tree = path.resolve()
    if not (tree / "pytest_tutorial" / "__init__.py").is_file():
        raise SystemExit(f"{tree} is not a source tree of pytest-tutorial")
    return tree


def interleaved_runs(
    arguments: list[str],
    versions: dict[str, tuple[Path, dict[str, str]]],
    rounds: int,
    accepted: tuple[int, ...] = (0, 1),
) -> None:
    """Run ``pytest ARGUMENTS`` once a round for each version (its folder and environment).

    The order alternates from round to round. Prints each run's wall and CPU time and last
    line, then each version's medians and the first version's ratios to the second's.
    """
    times: dict[str, list[float]] = {label: [] for label in versions}
    cpu: dict[str, list[float]] = {label: [] for label in versions}
    for round_ in range(rounds):
        order = list(versions) if round_ % 2 == 0 else list(reversed(versions))
        for label in order:
            cwd, env = versions[label]
            elapsed, used, output = measured_run(arguments, cwd=cwd, env=env, accepted=accepted)
            times[label].append(elapsed)
            cpu[label].append(used)
            last = output.strip().splitlines()[-1:] or [""]
            print(f"  {label:14} {elapsed:7.2f} s  CPU {used:7.2f} s  {last[0]}", flush=True)
    for label, values in times.items():
        print(
            f"{label}: median {median(values):.2f} s, CPU {median(cpu[label]):.2f} s "
            f"over {len(values)} runs"
        )
    first, second = list(versions)
    ratio = median(times[first]) / median(times[second])
    cpu_ratio = median(cpu[first]) / median(cpu[second])
    print(f"ratio {first} / {second}: {ratio:.2f} wall, {cpu_ratio:.2f} CPU")
