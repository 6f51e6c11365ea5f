"""Runs of the learner's tests against the tutorial's bugs, kept from one tutorial run to the next.

A run of the learner's tests against the control, a known bug or a hidden bug depends only on
what it runs: the files of the solution folder it copies, with the bug's module in place of
the learner's; the bug's source; the shuffle seed; the harness's runner and the installed
packages. Editing the learner's module changes none of that, so after a save ``watch`` and a
rerun of ``pytest --tutorial`` reuse those results and run the learner's tests only against
the learner's implementation (three shuffled runs, never reused: they are the evidence
that the tests pass consistently). A run that did not finish (a timeout, a crash: the
machine may be to blame) is never kept.

Entries are JSON files named by the sha256 of those inputs, in ``learner-runs`` under the
state folder (``.pytest-tutorial``); the newest :data:`MAX_ENTRIES` are kept. The bugs'
modules themselves (the control, the known and the hidden bugs, built from ``known_bad.py``:
a tenth of a second of the run's critical path) are kept there too, under the sha256 of
what builds them (:meth:`RunCache.bugs_key`).
``--tutorial-fresh-runs`` runs everything again, and ``pytest-tutorial grade`` never reads
nor writes them: a submission must not bring its own results.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pytest_tutorial import learner_tests
from pytest_tutorial.learner_layout import copied_below
from pytest_tutorial.learner_model import Implementation, Kind, Layout, LearnerTestRun
from pytest_tutorial.learner_tests import INI

FOLDER = "learner-runs"
MAX_ENTRIES = 256
FORMAT = 1
"""Bumped when an entry's fields change."""


@cache
def _environment() -> bytes:
    """What runs depend on besides the files: Python, installed packages, the runner."""
    packages = sorted(f"{dist.name}=={dist.version}" for dist in importlib.metadata.distributions())
    runner = Path(learner_tests.__file__).with_name("learner_runner.py").read_bytes()
    parts = [str(FORMAT), sys.version, platform.machine(), INI, *packages]
    return "\n".join(parts).encode() + runner


def _files(layout: Layout) -> Iterator[tuple[str, bytes]]:
    """Each file a run copies (relative path, content), the module under test left out."""
    for name in layout.entries:
        top = layout.solution / name
        paths = [top]
        if top.is_dir() and not top.is_symlink():
            paths = sorted(copied_below(top))
        for path in paths:
            relative = path.relative_to(layout.solution).as_posix()
            if relative == layout.module_path or (path.is_dir() and not path.is_symlink()):
                continue
            with contextlib.suppress(OSError):  # a file the run would not copy either
                content = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
                yield relative, content


@dataclass(frozen=True)
class RunCache:
    """The kept runs of one state folder."""

    folder: Path

    @staticmethod
    def reusable(implementation: Implementation) -> bool:
        """Whether a run against ``implementation`` may be reused (only the tutorial's bugs)."""
        return implementation.kind is not Kind.YOURS and implementation.source is not None

    def key(
        self, layout: Layout, implementation: Implementation, seed: int, exitfirst: bool
    ) -> str:
        """The sha256 of everything a run against ``implementation`` depends on.

        ``exitfirst``: the run ends at its first failing test.
        """
        digest = hashlib.sha256(_environment())
        parts = (str(seed), str(exitfirst), layout.module_path, implementation.source or "")
        for part in parts:
            digest.update(b"\0" + part.encode())
        for relative, content in _files(layout):
            digest.update(b"\0" + relative.encode() + b"\0" + str(len(content)).encode() + b"\0")
            digest.update(content)
        return digest.hexdigest()

    def get(self, key: str, implementation: Implementation, seed: int) -> LearnerTestRun | None:
        """The run kept under ``key``, for ``implementation``; None if there is none."""
        try:
            data = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            return LearnerTestRun(
                implementation,
                seed,
                exit_code=int(data["exit_code"]),
                outcomes={str(k): str(v) for k, v in dict(data["outcomes"]).items()},
                collection_errors=tuple(str(e) for e in data["collection_errors"]),
                output=str(data["output"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, run: LearnerTestRun) -> None:
        """Keep a finished run under ``key`` (atomically); drop the oldest beyond the limit."""
        if not run.finished:
            return
        data = {
            "exit_code": run.exit_code,
            "outcomes": dict(run.outcomes),
            "collection_errors": list(run.collection_errors),
            "output": run.output,
        }
        self._write(f"{key}.json", data)

    @staticmethod
    def bugs_key(tutorial_dir: Path, tutorial_id: str, version: str) -> str:
        """The sha256 of what the tutorial's bug modules are built from.

        ``known_bad.py`` and the hidden bugs' pool, the tutorial's id and version (they
        draw the hidden bugs), Python (``ast.unparse`` writes the modules) and the
        harness's code that builds them.
        """
        from pytest_tutorial import hidden_bugs, known_bugs
        from pytest_tutorial.verify import mutation

        digest = hashlib.sha256(f"bugs {FORMAT}\0{sys.version}\0{tutorial_id}\0{version}".encode())
        paths = [tutorial_dir / known_bugs.BASE_NAME, tutorial_dir / hidden_bugs.POOL_NAME]
        paths += [Path(str(module.__file__)) for module in (known_bugs, hidden_bugs, mutation)]
        for path in paths:
            try:
                content = path.read_bytes()
            except OSError:
                content = b"(none)"
            digest.update(b"\0" + str(len(content)).encode() + b"\0" + content)
        return digest.hexdigest()

    def get_bugs(self, key: str) -> list[Implementation] | None:
        """The bug modules kept under ``key``; None if there are none."""
        try:
            data = json.loads((self.folder / f"bugs-{key}.json").read_text(encoding="utf-8"))
            return [
                Implementation(
                    Kind(str(entry["kind"])),
                    str(entry["name"]),
                    str(entry["description"]),
                    str(entry["source"]),
                )
                for entry in data["bugs"]
            ]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put_bugs(self, key: str, bugs: list[Implementation]) -> None:
        """Keep the bug modules under ``key`` (atomically)."""
        entries: list[dict[str, str | None]] = [
            {
                "kind": bug.kind.value,
                "name": bug.name,
                "description": bug.description,
                "source": bug.source,
            }
            for bug in bugs
        ]
        self._write(f"bugs-{key}.json", {"bugs": entries})

    def _write(self, name: str, data: object) -> None:
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", dir=self.folder, suffix=".tmp", delete=False, encoding="utf-8"
            ) as file:
                json.dump(data, file)
            os.replace(file.name, self.folder / name)
            self._prune()

    def _prune(self) -> None:
        entries = sorted(self.folder.glob("*.json"), key=lambda path: path.stat().st_mtime)
        for path in entries[:-MAX_ENTRIES]:
            path.unlink(missing_ok=True)
