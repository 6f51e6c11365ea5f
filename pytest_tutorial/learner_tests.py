"""Run a learner's own tests: repeatedly, in shuffled order, and against known-bad code.

"Tests pass consistently" is checked by running the tests in the solution's ``tests/``
folder several times against the learner's implementation, each with another shuffle
seed, and once against each known-bad implementation the tutorial ships
(``known_bad_impls/<bug>/`` next to its checks), which they must catch.

The runs happen outside the checks' process, in one child process per core
(:mod:`pytest_tutorial.learner_runner`), each running its share of the runs one after
another with the learner's modules purged in between. Every run has a scratch folder as
working directory and a minimal ini file, so nothing is written into the learner's folder
and their ini settings cannot skip tests. Plugin autoloading is off in the child (scanning
every installed distribution for entry points costs half a second per process); the
plugins a learner's tests may rely on are loaded explicitly: pytest-asyncio
(``asyncio_mode = auto``) and hypothesis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RUN_TIMEOUT_S = 60.0
"""Time allowed per run; a child gets this times the number of its runs."""
LEARNER_PLUGINS = ("-p", "pytest_asyncio.plugin", "-p", "_hypothesis_pytestplugin")
OUTPUT_TAIL = 1500
INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


@dataclass(frozen=True)
class LearnerTestRun:
    """The outcome of one run of the learner's tests."""

    implementation: Path
    seed: int
    exit_code: int
    passed: int
    failed: int
    errors: int
    skipped: int
    output: str
    timed_out: bool = False

    @property
    def collected(self) -> int:
        """How many tests ran."""
        return self.passed + self.failed + self.errors + self.skipped

    @property
    def all_passed(self) -> bool:
        """Every test passed (and there was at least one)."""
        return self.exit_code == 0 and self.passed > 0 and not self.timed_out

    @property
    def caught_a_bug(self) -> bool:
        """At least one test failed (a run that errored out entirely does not count)."""
        return self.failed > 0 and not self.timed_out


def known_bad_implementations(tutorial_dir: Path) -> list[Path]:
    """The folders under the tutorial's ``known_bad_impls/``, sorted."""
    root = tutorial_dir / "known_bad_impls"
    return sorted(path for path in root.iterdir() if path.is_dir()) if root.is_dir() else []


def run_many(tests_dir: Path, jobs: list[tuple[Path, int]]) -> list[LearnerTestRun]:
    """Run (implementation, seed) pairs: one child process per core, runs in order of ``jobs``."""
    children = max(1, min(len(jobs), os.cpu_count() or 1))
    shares = [list(range(index, len(jobs), children)) for index in range(children)]
    with ThreadPoolExecutor(max_workers=children) as pool:
        done = list(pool.map(lambda share: _run_child(tests_dir, [jobs[i] for i in share]), shares))
    results: dict[int, LearnerTestRun] = {}
    for share, runs in zip(shares, done, strict=True):
        results.update(zip(share, runs, strict=True))
    return [results[index] for index in range(len(jobs))]


def _run_child(tests_dir: Path, jobs: list[tuple[Path, int]]) -> list[LearnerTestRun]:
    """Run ``jobs`` in one child; runs it never finished come back as timed out."""
    with tempfile.TemporaryDirectory(prefix="tutorial-learner-tests-") as scratch_name:
        scratch = Path(scratch_name)
        results = scratch / "results.jsonl"
        spec = {
            "tests_dir": str(tests_dir),
            "scratch": str(scratch),
            "results": str(results),
            "jobs": [{"implementation": str(path), "seed": seed} for path, seed in jobs],
        }
        (scratch / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")
        }
        env.update(
            {
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
                "HYPOTHESIS_STORAGE_DIRECTORY": str(scratch / "hypothesis"),
            }
        )
        command = [
            sys.executable,
            "-m",
            "pytest_tutorial.learner_runner",
            str(scratch / "spec.json"),
        ]
        child = subprocess.Popen(
            command,
            cwd=scratch,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _children.add(child)
        try:
            output = child.communicate(timeout=RUN_TIMEOUT_S * len(jobs))[0][-OUTPUT_TAIL:]
        except subprocess.TimeoutExpired:
            output = "the learner's tests did not finish in time"
        finally:
            _stop(child)
        finished = _read_results(results)
    return [
        finished[index]
        if index < len(finished)
        else LearnerTestRun(path, seed, -1, 0, 0, 0, 0, output, timed_out=True)
        for index, (path, seed) in enumerate(jobs)
    ]


_children: set[subprocess.Popen[str]] = set()
"""Children still running, so :func:`stop_all` can end them when the session ends."""


def _stop(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.kill()
        child.communicate()
    _children.discard(child)


def stop_all() -> None:
    """Kill every child still running (a run that is abandoned, e.g. after a check timeout)."""
    for child in list(_children):
        _stop(child)


def _read_results(path: Path) -> list[LearnerTestRun]:
    runs = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        data: dict[str, Any] = json.loads(line)
        data["implementation"] = Path(data["implementation"])
        runs.append(LearnerTestRun(**data))
    return runs


def to_json(run: LearnerTestRun) -> str:
    """One line of the child's results file."""
    data = asdict(run)
    data["implementation"] = str(run.implementation)
    return json.dumps(data)
