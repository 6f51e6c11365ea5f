"""Which modules pytest rewrites in a tutorial run: the checks, not the libraries behind them.

pytest rewrites the asserts of every module of every distribution that has a ``pytest11``
entry point, this package and hypothesis among them. Only the checks need it: the
tutorials' check modules, the fixture modules and the checks this package defines, whose
assert messages are what learners read (:data:`REWRITTEN`, registered by the plugin). The
rest of this package and hypothesis' internals are libraries whose asserts state their own
invariants. Rewriting them costs a parse, a rewrite and a compile per module, redone in
every run where no rewritten bytecode is cached (``PYTHONDONTWRITEBYTECODE``, a read-only
install): about half a second of a tutorial run's start-up for some 130 modules.

A tutorial run puts :class:`LibraryFinder` in front of pytest's import hook for the run's
length, so those libraries load from their ordinary bytecode, as they do outside pytest.
Modules imported before it (the entry module and what it imports) stay as pytest loaded
them; runs without ``--tutorial`` are untouched.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

REWRITTEN = (
    "pytest_tutorial.tutorials",
    "pytest_tutorial.fixtures",
    "pytest_tutorial.standard_checks",
    "pytest_tutorial.documentation",
)
"""This package's modules that define checks or fixtures: always rewritten."""
LIBRARIES = ("pytest_tutorial", "hypothesis")
"""Packages loaded as plain Python in a tutorial run, except for :data:`REWRITTEN`."""


def _within(name: str, packages: Sequence[str]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


class LibraryFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of :data:`LIBRARIES` as Python's own path finder does."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        """The plain spec of a library module; None for every other module."""
        if not _within(fullname, LIBRARIES) or _within(fullname, REWRITTEN):
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, path)


def load_libraries_plainly() -> Callable[[], None]:
    """Put a :class:`LibraryFinder` first on ``sys.meta_path``; returns what removes it."""
    finder = LibraryFinder()
    sys.meta_path.insert(0, finder)

    def remove() -> None:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)

    return remove
