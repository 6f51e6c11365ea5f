"""Hints in levels: a nudge first, more only after the learner tried again, all on request.

A check's ``hint`` may be one string or a sequence of strings, from a nudge to almost the
answer. A check's level goes up by one on a run where it is shown failing (its hint on
screen: the first failing check of its item, or every failing check with ``-v``) and the
learner has changed the solution since the last time it was shown failing. So the first
time a check is shown it shows level 1; rerunning untouched code, or a check listed on one
line without its hint, never climbs; a passing run resets it. ``--tutorial-hint-level``
asks for a level instead. Levels are kept in ``.pytest-tutorial/hints/NAME.json`` (outside
the learner's code), per solution folder.

Also here: the command that reruns one check, shown with a failing check.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_tutorial.options import SOLUTION, TUTORIAL, Settings, SolutionKind
from pytest_tutorial.scoring import CheckResult, CheckSpec, Status

FAILING = (Status.FAILED, Status.ERROR, Status.TIMEOUT)
BOOK_VERSION = 2
_IGNORED_PARTS = frozenset({"tests", "__pycache__", ".pytest_cache", ".hypothesis", ".benchmarks"})


def hint_levels(marker_hint: object) -> tuple[str, ...]:
    """The levels of a marker's ``hint=``: a string is one level, a sequence several."""
    if marker_hint is None or marker_hint == "":
        return ()
    if isinstance(marker_hint, str):
        return (marker_hint,)
    if isinstance(marker_hint, list | tuple) and all(isinstance(h, str) for h in marker_hint):
        return tuple(marker_hint)
    raise TypeError("hint must be a string or a list of strings, from a nudge to more detail")


def fingerprint(solution: Path) -> str:
    """A digest of the solution's code (its ``*.py`` files outside ``tests/`` and caches).

    Changes when the learner edits their implementation; not when they only run again or
    only edit their own tests.
    """
    digest = hashlib.sha256()
    try:
        files = sorted(
            path
            for path in solution.rglob("*.py")
            if not _IGNORED_PARTS.intersection(path.relative_to(solution).parts)
        )
        for path in files:
            digest.update(path.relative_to(solution).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    except OSError:
        return ""
    return digest.hexdigest()


class HintBook:
    """Per check, the hint level reached and the solution's fingerprint when last shown."""

    def __init__(self, path: Path, solution: str) -> None:
        self.path = path
        self.solution = solution
        self._data: dict[str, Any] = {"version": BOOK_VERSION, "solutions": {}}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("version") == BOOK_VERSION:
                self._data = data
        except (OSError, ValueError):
            pass
        solutions = self._data.setdefault("solutions", {})
        entry = solutions.get(solution)
        self.checks: dict[str, dict[str, Any]] = entry if isinstance(entry, dict) else {}
        solutions[solution] = self.checks

    def level(self, nodeid: str) -> int:
        """The level reached by a check (0 when it has never been shown failing)."""
        entry = self.checks.get(nodeid)
        return int(entry.get("level", 0)) if isinstance(entry, dict) else 0

    def record(
        self,
        results: Mapping[str, CheckResult],
        shown: Collection[str],
        current: str,
        specs: Mapping[str, CheckSpec],
    ) -> None:
        """Fold one run in: ``shown`` are the checks whose hint is on screen this run."""
        for nodeid, result in results.items():
            if result.status is Status.PASSED:
                self.checks.pop(nodeid, None)
                continue
            if result.status not in FAILING or nodeid not in shown:
                continue
            spec = specs.get(nodeid)
            top = max(len(spec.hints), 1) if spec is not None else 1
            entry = self.checks.get(nodeid)
            if not isinstance(entry, dict):
                self.checks[nodeid] = {"level": 1, "shown_at": current}
            elif entry.get("shown_at") != current:
                level = min(int(entry.get("level", 1)) + 1, top)
                self.checks[nodeid] = {"level": level, "shown_at": current}

    def save(self) -> None:
        """Write the levels; a state folder that cannot be written only loses the levels."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self._data, indent=1), encoding="utf-8")
        except OSError:
            pass


def with_hints(
    specs: Mapping[str, CheckSpec],
    results: Mapping[str, CheckResult],
    settings: Settings,
    book: HintBook,
) -> dict[str, CheckResult]:
    """Each failing check's result with the hint levels to show and the command to rerun it."""
    shown: dict[str, CheckResult] = {}
    for nodeid, result in results.items():
        spec = specs.get(nodeid)
        if spec is None or result.status not in FAILING:
            shown[nodeid] = result
            continue
        wanted = settings.hint_level if settings.hint_level is not None else book.level(nodeid)
        level = min(max(wanted, 1), len(spec.hints))
        hint = "\n".join(spec.hints[:level])  # each level adds to the ones before
        shown[nodeid] = replace(
            result, hint=hint, hint_level=level, reproduce=rerun_command(spec, settings)
        )
    return shown


def rerun_command(spec: CheckSpec, settings: Settings) -> str:
    """The command that runs just this check again against the same solution."""
    parts = ["pytest", f"{TUTORIAL}={settings.tutorial}"]
    if settings.solution_kind is SolutionKind.REFERENCE:
        parts.append(f"{SOLUTION}=reference")
    elif settings.solution_kind is SolutionKind.PATH:
        parts.append(f"{SOLUTION}={_relative(settings.solution)}")
    parts += ["-k", spec.name.split("[", 1)[0]]
    return shlex.join(parts)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
