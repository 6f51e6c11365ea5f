"""A learner's progress, kept between runs: which items passed, and when they first did.

Every tutorial run folds its checklist into ``progress.json`` in the state folder
(``.pytest-tutorial/`` under the rootdir, never inside the learner's code; see
:func:`pytest_tutorial.options.default_state_dir`), keyed by tutorial and by solution
folder. ``pytest --tutorial-list`` and ``pytest-tutorial watch`` show it.

Not recorded: runs of the reference solution, and runs with the environment variable
``PYTEST_TUTORIAL_NO_PROGRESS`` set (``pytest-tutorial verify`` sets it for its own runs).
A check deselected with ``-k`` leaves its item's previous state alone. Recording never
fails a run: a progress file that cannot be read or written is skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_tutorial.options import STATE_DIR, Settings, SolutionKind, default_state_dir
from pytest_tutorial.scoring import NO_VERDICT, ItemResult, Scorecard, Status, Verdict

PROGRESS_FILE = "progress.json"
NO_PROGRESS_ENV = "PYTEST_TUTORIAL_NO_PROGRESS"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ItemProgress:
    """One automated checklist item: its status in the last run that ran it, and when it passed."""

    id: str
    text: str
    status: str
    first_passed: str | None
    last_passed: str | None


@dataclass(frozen=True)
class SolutionProgress:
    """One solution folder's progress in one tutorial."""

    tutorial: str
    solution: str
    runs: int
    last_run: str
    verdict: str
    points: int
    max_points: int
    first_validated: str | None
    items: tuple[ItemProgress, ...]

    @property
    def passed(self) -> int:
        """Items whose last run passed."""
        return sum(item.status == Status.PASSED.value for item in self.items)

    def item(self, item_id: str) -> ItemProgress | None:
        """The progress of one item, or None."""
        return next((item for item in self.items if item.id == item_id), None)

    def summary(self) -> str:
        """``4/6 items``, ``6/6 validated`` or ``6/6 (validated 2026-11-25)``."""
        text = f"{self.passed}/{len(self.items)}"
        if self.verdict == Verdict.VALIDATED.value:
            return f"{text} validated"
        if self.first_validated:
            return f"{text} (validated {self.first_validated[:10]})"
        return f"{text} items"


def progress_path(rootdir: Path, solution: Path) -> Path:
    """The progress file of runs with this rootdir and solution folder."""
    return default_state_dir(rootdir, solution) / PROGRESS_FILE


def solution_key(rootdir: Path, solution: Path) -> str:
    """How a solution folder is named in the file: relative to the rootdir when inside it.

    In the per-user cache, shared by every rootdir that is its own solution folder (a
    folder made by ``pytest-tutorial start``), it is the absolute path.
    """
    if default_state_dir(rootdir, solution) != rootdir / STATE_DIR:
        return solution.resolve().as_posix()
    try:
        return solution.resolve().relative_to(rootdir.resolve()).as_posix()
    except ValueError:
        return solution.resolve().as_posix()


def record_run(settings: Settings, card: Scorecard, now: datetime | None = None) -> Path | None:
    """Fold one run's checklist into the progress file; the file, or None when skipped."""
    if settings.solution_kind is SolutionKind.REFERENCE or os.environ.get(NO_PROGRESS_ENV):
        return None
    automated = [result for result in card.items if result.automated]
    if not any(_ran(result) for result in automated):
        return None  # the run checked nothing (a usage error, --collect-only)
    path = progress_path(settings.rootdir, settings.solution)
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    key = solution_key(settings.rootdir, settings.solution)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path):
            data = _read(path)
            tutorial = data["tutorials"].setdefault(settings.tutorial, {"solutions": {}})
            tutorial["last_solution"] = key
            entry = tutorial["solutions"].get(key) or {"runs": 0, "items": {}}
            previous: dict[str, Any] = entry.get("items", {})
            items: dict[str, Any] = {}
            for result in automated:
                old = previous.get(result.item.id, {})
                status = result.status.value
                if not _ran(result) and old:  # deselected, or after -x stopped the run
                    status = old.get("status", status)
                passed = result.status is Status.PASSED
                items[result.item.id] = {
                    "text": result.item.text,
                    "status": status,
                    "first_passed": old.get("first_passed") or (stamp if passed else None),
                    "last_passed": stamp if passed else old.get("last_passed"),
                }
            validated = card.verdict is Verdict.VALIDATED
            entry.update(
                {
                    "kind": settings.solution_kind.value,
                    "runs": int(entry.get("runs", 0)) + 1,
                    "last_run": stamp,
                    "verdict": card.verdict.value,
                    "points": card.points,
                    "max_points": card.max_points,
                    "first_validated": entry.get("first_validated")
                    or (stamp if validated else None),
                    "items": items,
                }
            )
            tutorial["solutions"][key] = entry
            _write(path, data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return path


def _ran(result: ItemResult) -> bool:
    """Whether a check of the item ran (a check that never reported has NO_VERDICT)."""
    return any(
        check is not NO_VERDICT and check.status is not Status.SKIPPED for _, check in result.checks
    )


def load_progress(
    path: Path, tutorial: str, solution: str | None = None
) -> SolutionProgress | None:
    """The progress of ``solution`` (a key, default: the last one run) in ``tutorial``."""
    try:
        data = _read(path)
        entry_of_tutorial = data["tutorials"].get(tutorial)
        if not entry_of_tutorial:
            return None
        key = solution or entry_of_tutorial.get("last_solution")
        entry = entry_of_tutorial["solutions"].get(key)
        if not entry:
            return None
        return SolutionProgress(
            tutorial=tutorial,
            solution=str(key),
            runs=int(entry["runs"]),
            last_run=str(entry["last_run"]),
            verdict=str(entry["verdict"]),
            points=int(entry["points"]),
            max_points=int(entry["max_points"]),
            first_validated=entry.get("first_validated"),
            items=tuple(
                ItemProgress(
                    id=item_id,
                    text=str(item.get("text", "")),
                    status=str(item.get("status", "")),
                    first_passed=item.get("first_passed"),
                    last_passed=item.get("last_passed"),
                )
                for item_id, item in entry["items"].items()
            ),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def progress_cell(rootdir: Path, tutorial: str, solution: Path | None = None) -> str:
    """``pytest --tutorial-list``'s progress column: the last solution run, or ``-``.

    ``solution`` is the folder ``pytest --tutorial`` checks by default (``exercises/NAME``
    under the rootdir unless given); in the shared per-user cache only its own runs count.
    """
    from pytest_tutorial.options import LEARNER_ROOT

    solution = solution or rootdir / LEARNER_ROOT / tutorial
    path = progress_path(rootdir, solution)
    default = solution_key(rootdir, solution)
    shared = path.parent != rootdir / STATE_DIR
    found = load_progress(path, tutorial, default if shared else None) if path.is_file() else None
    if found is None:
        return "-"
    where = "" if found.solution == default else f" ({found.solution})"
    return found.summary() + where


def find_progress(tutorial: str, solution: Path, start: Path) -> SolutionProgress | None:
    """The progress of a solution folder, from ``start`` or the nearest ancestor holding it.

    The rootdir of a pytest run started in ``start`` is ``start`` or one of its ancestors
    (where the ini file is), so the state folder is found by walking up; a rootdir inside
    the solution folder keeps it in the per-user cache.
    """
    for folder in (start.resolve(), *start.resolve().parents):
        path = progress_path(folder, solution)
        if path.is_file():
            found = load_progress(path, tutorial, solution_key(folder, solution))
            if found is not None:
                return found
    return None


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"schema_version": SCHEMA_VERSION, "tutorials": {}}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("tutorials"), dict):
        raise ValueError(f"{path} is not a progress file")
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    """Replace the file atomically, so a reader never sees half of it."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".progress-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=1)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise writers (a watch loop and a manual run may finish together)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the atomic replace still keeps the file whole
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
