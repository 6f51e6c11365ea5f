"""What every run of a learner's tests copies of the solution, and what its code imports.

:func:`solution_layout` lists the solution folder's top-level files, packages and
``tests/`` (the caches left out) that every run lays out afresh, refuses a folder too big
to copy each time, and notes which libraries the solution's code imports, so that the
runs' warm server imports them once (moto and boto3, fakeredis and redis-py) and no server
imports what no run uses. The files are read, never imported.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from pathlib import Path

from pytest_tutorial.learner_model import Layout, LearnerTestsError

TESTS_FOLDER = "tests"
SKIPPED_NAMES = frozenset({"__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache"})
MAX_COPIED_FILES = 2000
MAX_COPIED_BYTES = 32 * 1024 * 1024
AWS_IMPORT = re.compile(rb"^\s*(?:import|from)\s+(?:boto3|botocore|moto)\b", re.MULTILINE)
"""A solution whose code imports these gets a warm server with moto and boto3 imported."""
REDIS_IMPORT = re.compile(rb"^\s*(?:import|from)\s+(?:redis|fakeredis)\b", re.MULTILINE)
"""A solution whose code imports these gets a warm server with them imported."""


def solution_layout(solution: Path, module: str) -> Layout:
    """The entries of ``solution`` every run copies; too much to copy is the learner's error."""
    solution = solution.resolve()
    entries = []
    files = size = 0
    aws = redis = False
    for path in sorted(solution.iterdir()) if solution.is_dir() else []:
        if path.name.startswith(".") or path.name in SKIPPED_NAMES:
            continue
        if path.is_dir() and not path.is_symlink():
            if path.name != TESTS_FOLDER and not (path / "__init__.py").is_file():
                continue
            inside = copied_below(path)
            files += len(inside)
            size += sum(p.lstat().st_size for p in inside if p.is_file())
            sources = [p for p in inside if p.suffix == ".py"]
        else:
            files += 1
            size += path.lstat().st_size
            sources = [path] if path.suffix == ".py" else []
        aws = aws or any(_imports(source, AWS_IMPORT) for source in sources)
        redis = redis or any(_imports(source, REDIS_IMPORT) for source in sources)
        entries.append(path.name)
    if files > MAX_COPIED_FILES or size > MAX_COPIED_BYTES:
        raise LearnerTestsError(
            f"{solution} holds {files} files ({size // 1024} KiB) in its top level, packages "
            f"and tests/: too much to copy for every run of your tests (at most "
            f"{MAX_COPIED_FILES} files, {MAX_COPIED_BYTES // 2**20} MiB); move data and "
            "virtual environments out of the solution folder"
        )
    hypothesis = tests_use_hypothesis(solution / TESTS_FOLDER)
    return Layout(solution, module, tuple(entries), aws, redis, hypothesis)


def copied_below(folder: Path) -> list[Path]:
    """What every run copies of a folder of the solution's (a package, ``tests/``).

    Everything below it but the caches (:data:`SKIPPED_NAMES`), as the run's copy skips
    them; the kept runs' key (:mod:`.learner_run_cache`) reads the same files.
    """
    return [path for path in folder.rglob("*") if not SKIPPED_NAMES.intersection(path.parts)]


def _imports(path: Path, pattern: re.Pattern[bytes]) -> bool:
    """Whether the file at ``path`` has an import statement ``pattern`` matches."""
    try:
        return path.is_file() and pattern.search(path.read_bytes()) is not None
    except OSError:
        return False


def tests_use_hypothesis(tests: Path) -> bool:
    """Whether a module of the tests folder ``tests`` mentions hypothesis (read, not imported).

    Then their runs are given hypothesis' Unicode tables, built first if need be.
    """
    for path in itertools.islice(tests.rglob("*.py"), MAX_COPIED_FILES):
        with contextlib.suppress(OSError):
            if b"hypothesis" in path.read_bytes():
                return True
    return False
