"""Find the tutorials that can be run: each is a folder with ``tutorial.md`` and check modules."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_tutorial.errors import usage_error

BUNDLED_ROOT = Path(__file__).parent / "tutorials"
ENTRY_POINT_GROUP = "pytest_tutorial.tutorials"
"""Tutorial packs: each entry point names a package (or module) whose folder holds tutorials."""
DOCUMENT_NAME = "tutorial.md"
CHECK_MODULE_GLOB = "check_*.py"


@dataclass(frozen=True)
class TutorialSource:
    """Where one tutorial lives: its folder, its document and its check modules."""

    id: str
    directory: Path

    @property
    def document(self) -> Path:
        """The tutorial's Markdown document."""
        return self.directory / DOCUMENT_NAME

    def check_modules(self) -> list[Path]:
        """The tutorial's check modules, sorted so collection order is stable."""
        return sorted(self.directory.glob(CHECK_MODULE_GLOB))


def pack_roots() -> tuple[Path, ...]:
    """The folders of installed tutorial packs (entry point group ``pytest_tutorial.tutorials``).

    A pack that names a module Python cannot find is a usage error naming the entry point.
    Read again only when a folder of ``sys.path`` changed (an install adds or removes a
    distribution's metadata there): reading every distribution's entry points costs
    about 3 ms, and a run looks them up twice.
    """
    return _pack_roots(_install_state())


def _install_state() -> tuple[tuple[str, int], ...]:
    """Each folder of ``sys.path`` with its modification time."""
    state = []
    for entry in sys.path:
        with contextlib.suppress(OSError):
            state.append((entry, os.stat(entry or ".").st_mtime_ns))
    return tuple(state)


@functools.lru_cache(maxsize=1)
def _pack_roots(_state: tuple[tuple[str, int], ...]) -> tuple[Path, ...]:
    from importlib import metadata, util

    roots: list[Path] = []
    entries = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    for entry in entries:
        try:
            spec = util.find_spec(entry.module)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            owner = entry.dist.name if entry.dist is not None else "an installed package"
            raise usage_error(
                f"tutorial pack '{entry.name} = {entry.value}' (entry point group "
                f"{ENTRY_POINT_GROUP}, from {owner}) names a module that cannot be imported",
                fix=f"reinstall {owner}, or uninstall it",
            )
        if spec.submodule_search_locations:
            roots.extend(Path(location) for location in spec.submodule_search_locations)
        elif spec.origin:
            roots.append(Path(spec.origin).parent)
    return tuple(roots)


def find_tutorials(roots: tuple[Path, ...] = (BUNDLED_ROOT,)) -> dict[str, TutorialSource]:
    """Every folder under ``roots`` that holds a tutorial document, by id (folder name).

    Installed packs are searched just before the bundled tutorials (so after the ini's
    ``tutorial_paths``); the first folder of a name wins.
    """
    found: dict[str, TutorialSource] = {}
    if BUNDLED_ROOT in roots:
        at = roots.index(BUNDLED_ROOT)
        roots = (*roots[:at], *pack_roots(), *roots[at:])
    for root in roots:
        if not root.is_dir():
            continue
        for directory in sorted(root.iterdir()):
            if (directory / DOCUMENT_NAME).is_file() and directory.name not in found:
                found[directory.name] = TutorialSource(directory.name, directory)
    return found


def get_tutorial(name: str, roots: tuple[Path, ...] = (BUNDLED_ROOT,)) -> TutorialSource:
    """The tutorial called ``name``, or a usage error listing the ones that exist."""
    found = find_tutorials(roots)
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise usage_error(
            f"--tutorial={name}: no such tutorial",
            fix=f"use one of: {known} (pytest --tutorial-list shows them)",
        )
    return found[name]


def tutorial_folder(name: str, roots: tuple[Path, ...] = (BUNDLED_ROOT,)) -> Path:
    """The folder of tutorial ``name``, or the bundled tutorials' folder when there is none.

    Never raises: a missing tutorial is reported later, as a usage error, by the run itself.
    """
    try:
        return find_tutorials(roots)[name].directory
    except (KeyError, pytest.UsageError):
        return BUNDLED_ROOT
