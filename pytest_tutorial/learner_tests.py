"""Run a learner's own tests against several implementations, each from the same neutral path.

"Tests pass consistently" runs the tests in the solution's ``tests/`` folder several times
against the learner's implementation, each with another shuffle seed, and once against a
correct implementation the tutorial ships (the *control*), each of its known bugs and a
sample of hidden bugs (:mod:`pytest_tutorial.fixtures.learner` makes that list).

Every run lays the same folder out afresh: a copy of the solution folder's top-level files,
packages and ``tests/``, with the contract's module (``cache_service.py``) replaced by the
implementation under test, at ``<scratch>/solution``; it runs the tests with that folder as
working directory, rootdir and front entry of ``sys.path``, then wipes it. So ``__file__``,
``__name__``, ``sys.path`` and the node ids are the same in every run, and the modules built
from the tutorial's ``known_bad.py`` import nothing of this package: a test cannot tell the
runs apart by where the code lives.

The runs happen in one child process per core (:mod:`pytest_tutorial.learner_runner`), each
running its share one after another, in an order shuffled afresh every time (a test cannot
count its way to a run either). The child learns no run's purpose, only the module source
and seed. A run that hangs past :data:`RUN_TIMEOUT_S`, or ends its process, costs only
itself: the child is replaced and the rest of its share goes on. Plugin autoloading is off
in the child (scanning every installed distribution costs half a second per process); the
plugins a learner's tests may rely on are loaded explicitly: pytest-asyncio
(``asyncio_mode = auto``) and hypothesis.
"""

from __future__ import annotations

import enum
import json
import os
import random
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

RUN_TIMEOUT_S = 60.0
"""Time allowed per run (a run normally takes well under a second)."""
LEARNER_PLUGINS = ("-p", "pytest_asyncio.plugin", "-p", "_hypothesis_pytestplugin")
OUTPUT_TAIL = 1500
INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""
TESTS_FOLDER = "tests"
NEUTRAL_FOLDER = "solution"
"""The name of every run's folder, under the child's scratch folder."""
SKIPPED_NAMES = frozenset({"__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache"})
MAX_COPIED_FILES = 2000
MAX_COPIED_BYTES = 32 * 1024 * 1024

SEED_VARIABLE = "PYTEST_TUTORIAL_SHUFFLE_SEED"
"""Tells :mod:`pytest_tutorial.shuffle`, in the child, the run's seed."""

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
"""A test's outcome in one run (``error``: its setup or teardown failed)."""


class LearnerTestsError(Exception):
    """The learner's tests cannot be run at all; the message says why, for the learner."""


class Kind(enum.Enum):
    """What an implementation is, for the verdicts (the child never learns it)."""

    YOURS = "yours"
    CONTROL = "control"
    """A correct implementation built from the tutorial's ``known_bad.py``."""
    KNOWN = "known"
    HIDDEN = "hidden"


@dataclass(frozen=True)
class Implementation:
    """One implementation the learner's tests run against."""

    kind: Kind
    name: str = ""
    """The bug's name (``drops_ttl``, ``hidden bug 3``), empty for the others."""
    description: str = ""
    """What the bug does, for messages."""
    source: str | None = field(default=None, repr=False)
    """The module's source; None keeps the solution's own module."""


@dataclass(frozen=True)
class Layout:
    """What every run's folder holds: the solution's entries and the module's path."""

    solution: Path
    module: str
    """The contract's module name (``cache_service``)."""
    entries: tuple[str, ...]
    """The solution's top-level names to copy (files, packages, ``tests``)."""

    @property
    def module_path(self) -> str:
        """The module's file, relative to the folder."""
        return self.module.replace(".", "/") + ".py"


@dataclass(frozen=True)
class LearnerTestRun:
    """The outcome of one run of the learner's tests."""

    implementation: Implementation
    seed: int
    exit_code: int
    outcomes: Mapping[str, str]
    """Each test's node id (``tests/test_x.py::test_y``) and outcome."""
    collection_errors: tuple[str, ...]
    """One line per file that could not be collected."""
    output: str
    timed_out: bool = False
    crashed: bool = False
    """The process ended during the run (``os._exit``, a crash)."""

    def tests(self, *outcomes: str) -> list[str]:
        """The node ids of the tests that ended with one of ``outcomes``, in run order."""
        return [nodeid for nodeid, outcome in self.outcomes.items() if outcome in outcomes]

    @property
    def passed(self) -> int:
        """How many tests passed."""
        return len(self.tests(PASSED))

    @property
    def failed(self) -> int:
        """How many tests failed."""
        return len(self.tests(FAILED))

    @property
    def errors(self) -> int:
        """Tests whose setup or teardown failed, and files that could not be collected."""
        return len(self.tests(ERROR)) + len(self.collection_errors)

    @property
    def skipped(self) -> int:
        """How many tests were skipped."""
        return len(self.tests(SKIPPED))

    @property
    def collected(self) -> int:
        """How many tests ran."""
        return len(self.outcomes)

    @property
    def finished(self) -> bool:
        """The run came to its end (it neither hung nor ended its process)."""
        return not (self.timed_out or self.crashed)

    @property
    def all_passed(self) -> bool:
        """Every test passed or was skipped (and at least one passed)."""
        return self.finished and self.exit_code == 0 and self.passed > 0


def solution_layout(solution: Path, module: str) -> Layout:
    """The entries of ``solution`` every run copies; too much to copy is the learner's error."""
    solution = solution.resolve()
    entries = []
    files = size = 0
    for path in sorted(solution.iterdir()) if solution.is_dir() else []:
        if path.name.startswith(".") or path.name in SKIPPED_NAMES:
            continue
        if path.is_dir() and not path.is_symlink():
            if path.name != TESTS_FOLDER and not (path / "__init__.py").is_file():
                continue
            inside = [p for p in path.rglob("*") if not SKIPPED_NAMES.intersection(p.parts)]
            files += len(inside)
            size += sum(p.lstat().st_size for p in inside if p.is_file())
        else:
            files += 1
            size += path.lstat().st_size
        entries.append(path.name)
    if files > MAX_COPIED_FILES or size > MAX_COPIED_BYTES:
        raise LearnerTestsError(
            f"{solution} holds {files} files ({size // 1024} KiB) in its top level, packages "
            f"and tests/: too much to copy for every run of your tests (at most "
            f"{MAX_COPIED_FILES} files, {MAX_COPIED_BYTES // 2**20} MiB); move data and "
            "virtual environments out of the solution folder"
        )
    return Layout(solution, module, tuple(entries))


def run_many(
    layout: Layout,
    jobs: list[tuple[Implementation, int]],
    *,
    timeout_s: float = RUN_TIMEOUT_S,
    cancel: threading.Event | None = None,
) -> list[LearnerTestRun]:
    """Run (implementation, seed) pairs, one child process per core, in a shuffled order.

    The results come back in the order of ``jobs``. Once ``cancel`` is set no new child
    starts (the runs left come back unfinished); :func:`stop_all` ends the running ones.
    """
    order = list(range(len(jobs)))
    random.SystemRandom().shuffle(order)
    children = max(1, min(len(jobs), os.cpu_count() or 1))
    shares = [order[index::children] for index in range(children)]
    stop = cancel or threading.Event()

    def run_share(share: list[int]) -> list[LearnerTestRun]:
        return _run_share(layout, [jobs[i] for i in share], timeout_s, stop)

    with ThreadPoolExecutor(max_workers=children) as pool:
        done = list(pool.map(run_share, shares))
    results: dict[int, LearnerTestRun] = {}
    for share, runs in zip(shares, done, strict=True):
        results.update(zip(share, runs, strict=True))
    return [results[index] for index in range(len(jobs))]


def _run_share(
    layout: Layout,
    jobs: list[tuple[Implementation, int]],
    timeout_s: float,
    cancel: threading.Event,
) -> list[LearnerTestRun]:
    """Run ``jobs`` in order; a run that hangs or kills its child costs only itself."""
    runs: list[LearnerTestRun] = []
    while len(runs) < len(jobs):
        if cancel.is_set():
            why = "the runs were stopped (the check ended first)"
            return runs + [_unfinished(job, why, "", crashed=True) for job in jobs[len(runs) :]]
        pending = jobs[len(runs) :]
        finished, output, timed_out = _run_child(layout, pending, timeout_s)
        runs += [
            LearnerTestRun(implementation, seed, **result)
            for (implementation, seed), result in zip(pending, finished, strict=False)
        ]
        if len(runs) < len(jobs):
            why = (
                f"the run did not finish within {timeout_s:g} s"
                if timed_out
                else "the run ended the test process"
            )
            runs.append(_unfinished(jobs[len(runs)], why, output, crashed=not timed_out))
    return runs


def _unfinished(
    job: tuple[Implementation, int], why: str, output: str, *, crashed: bool
) -> LearnerTestRun:
    """A run without a result; its output starts with why."""
    tail = output[-max(0, OUTPUT_TAIL - len(why) - 1) :] if output else ""
    text = f"{why}\n{tail}" if tail else why
    return LearnerTestRun(job[0], job[1], -1, {}, (), text, not crashed, crashed)


def _run_child(
    layout: Layout, jobs: list[tuple[Implementation, int]], timeout_s: float
) -> tuple[list[dict[str, Any]], str, bool]:
    """Run ``jobs`` in one child until one takes longer than ``timeout_s`` or the child ends.

    Returns the results of the runs that finished, in order, the child's output (its tail),
    and whether it was stopped for taking too long.
    """
    with (
        tempfile.TemporaryDirectory(prefix="tutorial-learner-tests-") as scratch_name,
        tempfile.TemporaryFile() as output,
    ):
        scratch = Path(scratch_name)
        (scratch / "pytest.ini").write_text(INI, encoding="utf-8")
        spec = {
            "solution": str(layout.solution),
            "entries": list(layout.entries),
            "module_path": layout.module_path,
            "scratch": str(scratch),
            "jobs": [{"source": impl.source, "seed": seed} for impl, seed in jobs],
        }
        results_read, results_write = os.pipe()
        try:
            child = _start(scratch, results_write, output)
        finally:
            os.close(results_write)
        _children.add(child)
        try:
            _send(child, json.dumps(spec).encode())
            finished, timed_out = _collect(results_read, len(jobs), timeout_s)
        finally:
            os.close(results_read)
            _stop(child)
        output.seek(0)
        tail = output.read().decode(errors="replace")[-OUTPUT_TAIL:]
    return finished, tail, timed_out


def _start(scratch: Path, results_fd: int, output: IO[bytes]) -> subprocess.Popen[bytes]:
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
    command = [sys.executable, "-P", "-m", "pytest_tutorial.learner_runner", str(results_fd)]
    return subprocess.Popen(
        command,
        cwd=scratch,
        env=env,
        stdin=subprocess.PIPE,
        stdout=output,
        stderr=subprocess.STDOUT,
        pass_fds=(results_fd,),
    )


def _send(child: subprocess.Popen[bytes], spec: bytes) -> None:
    """The spec goes through the child's stdin: no file in its folder names the runs."""
    assert child.stdin is not None
    try:
        child.stdin.write(spec)
        child.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # the child died at start-up: its runs come back unfinished


def _collect(fd: int, expected: int, timeout_s: float) -> tuple[list[dict[str, Any]], bool]:
    """Read one JSON line per finished run; stop at the end, a bad line, or a late run."""
    results: list[dict[str, Any]] = []
    buffer = b""
    deadline = time.monotonic() + timeout_s
    while len(results) < expected:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return results, True
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return results, False
        buffer += chunk
        while b"\n" in buffer and len(results) < expected:
            line, buffer = buffer.split(b"\n", 1)
            result = _result(line)
            if result is None:
                return results, False
            results.append(result)
            deadline = time.monotonic() + timeout_s
    return results, False


def _result(line: bytes) -> dict[str, Any] | None:
    """One run's result as the child wrote it, or None when it is not one."""
    try:
        data = json.loads(line)
        outcomes = {str(k): str(v) for k, v in dict(data["outcomes"]).items()}
        return {
            "exit_code": int(data["exit_code"]),
            "outcomes": outcomes,
            "collection_errors": tuple(str(e) for e in data["collection_errors"]),
            "output": str(data["output"])[-OUTPUT_TAIL:],
        }
    except (ValueError, KeyError, TypeError):
        return None


_children: set[subprocess.Popen[bytes]] = set()
"""Children still running, so :func:`stop_all` can end them when the session ends."""


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.kill()
    child.wait()
    _children.discard(child)


def stop_all() -> None:
    """Kill every child still running (a run that is abandoned, e.g. after a check timeout)."""
    for child in list(_children):
        _stop(child)


def result_line(
    exit_code: int, outcomes: Mapping[str, str], collection_errors: list[str], output: str
) -> bytes:
    """One line of the child's results pipe."""
    data = {
        "exit_code": exit_code,
        "outcomes": dict(outcomes),
        "collection_errors": collection_errors,
        "output": output[-OUTPUT_TAIL:],
    }
    return json.dumps(data).encode() + b"\n"
