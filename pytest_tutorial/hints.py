"""Hints in levels: a nudge first, more on the next failing run, or all of them on request.

A check's ``hint`` may be one string or a sequence of strings, from a nudge to almost the
answer. Which level a learner sees depends on how many runs in a row the check has failed
(kept in ``.pytest-tutorial/hints/NAME.json``, outside the learner's code), unless
``--tutorial-hint-level`` asks for a level. Also here: the command that reruns one check,
shown with a failing check (with hypothesis' shrunk counterexample when it has one).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from pytest_tutorial.options import SOLUTION, TUTORIAL, Settings, SolutionKind
from pytest_tutorial.scoring import CheckResult, CheckSpec, Status

FAILING = (Status.FAILED, Status.ERROR, Status.TIMEOUT)


def hint_levels(marker_hint: object) -> tuple[str, ...]:
    """The levels of a marker's ``hint=``: a string is one level, a sequence several."""
    if marker_hint is None or marker_hint == "":
        return ()
    if isinstance(marker_hint, str):
        return (marker_hint,)
    if isinstance(marker_hint, list | tuple) and all(isinstance(h, str) for h in marker_hint):
        return tuple(marker_hint)
    raise TypeError("hint must be a string or a list of strings, from a nudge to more detail")


class HintBook:
    """Counts, per check, how many runs in a row it has failed; saved between runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            counts = data.get("consecutive_failures", {})
            self.failures = {str(k): int(v) for k, v in counts.items()}
        except (OSError, ValueError, AttributeError):
            self.failures = {}

    def record(self, results: Mapping[str, CheckResult]) -> None:
        """Count this run: a failing check's streak grows, a passing one's resets."""
        for nodeid, result in results.items():
            if result.status in FAILING:
                self.failures[nodeid] = self.failures.get(nodeid, 0) + 1
            elif result.status is Status.PASSED:
                self.failures.pop(nodeid, None)

    def save(self) -> None:
        """Write the counts; a state folder that cannot be written only loses the levels."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({"consecutive_failures": self.failures}, indent=1))
        except OSError:
            pass


def with_hints(
    specs: Mapping[str, CheckSpec],
    results: Mapping[str, CheckResult],
    settings: Settings,
    book: HintBook,
) -> dict[str, CheckResult]:
    """Each failing check's result with the hint level to show and the command to rerun it."""
    shown: dict[str, CheckResult] = {}
    for nodeid, result in results.items():
        spec = specs.get(nodeid)
        if spec is None or result.status not in FAILING:
            shown[nodeid] = result
            continue
        streak = max(book.failures.get(nodeid, 1), 1)
        wanted = settings.hint_level if settings.hint_level is not None else streak
        level = min(wanted, len(spec.hints))
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
