"""Run a learner's own tests: repeatedly, in shuffled order, and against known-bad code.

"Tests pass consistently" is checked by running the tests in the solution's ``tests/``
folder in separate processes: several times against the learner's implementation, each
with another shuffle seed, and once against each known-bad implementation the tutorial
ships (``known_bad_impls/<bug>/`` next to its checks), which they must catch. Each run
gets its own scratch folder as working directory and a minimal ini file, so nothing is
written into the learner's folder and their ini settings cannot skip tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pytest_tutorial.shuffle import SEED_VARIABLE

RUN_TIMEOUT_S = 60.0
OUTPUT_TAIL = 1500
_INI = """[pytest]
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


def run_tests(tests_dir: Path, implementation: Path, *, seed: int) -> LearnerTestRun:
    """Run ``tests_dir`` with ``implementation`` first on ``sys.path``, shuffled by ``seed``."""
    with tempfile.TemporaryDirectory(prefix="tutorial-learner-tests-") as scratch_name:
        scratch = Path(scratch_name)
        ini = scratch / "pytest.ini"
        ini.write_text(_INI, encoding="utf-8")
        junit = scratch / "results.xml"
        env = dict(os.environ)
        for variable in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
            env.pop(variable, None)
        env.update(
            {
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(implementation), env.get("PYTHONPATH")])
                ),
                "PYTHONDONTWRITEBYTECODE": "1",
                "HYPOTHESIS_STORAGE_DIRECTORY": str(scratch / "hypothesis"),
                SEED_VARIABLE: str(seed),
            }
        )
        command = [
            sys.executable,
            "-m",
            "pytest",
            str(tests_dir),
            "-c",
            str(ini),
            "--rootdir",
            str(scratch),
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:tutorial",
            "-p",
            "pytest_tutorial.shuffle",
            "--junit-xml",
            str(junit),
            "-o",
            "junit_family=xunit2",
        ]
        try:
            completed = subprocess.run(
                command,
                cwd=scratch,
                env=env,
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as expired:
            partial = expired.stdout or b""
            text = partial.decode(errors="replace") if isinstance(partial, bytes) else partial
            return LearnerTestRun(
                implementation, seed, -1, 0, 0, 0, 0, text[-OUTPUT_TAIL:], timed_out=True
            )
        counts = _junit_counts(junit)
        output = (completed.stdout + completed.stderr)[-OUTPUT_TAIL:]
        return LearnerTestRun(implementation, seed, completed.returncode, *counts, output)


def run_many(tests_dir: Path, jobs: list[tuple[Path, int]]) -> list[LearnerTestRun]:
    """Run several (implementation, seed) pairs in parallel, one process per core."""
    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda job: run_tests(tests_dir, job[0], seed=job[1]), jobs))


def _junit_counts(path: Path) -> tuple[int, int, int, int]:
    """(passed, failed, errors, skipped) from a JUnit XML file; zeros when it is missing."""
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError):
        return 0, 0, 0, 0
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = failed = errors = skipped = 0
    for suite in suites:
        total += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0))
        errors += int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return total - failed - errors - skipped, failed, errors, skipped
