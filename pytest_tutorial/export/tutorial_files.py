"""The tutorial an export is for, and its folder when the installed package lacks it.

A tutorial bundled in this package travels with the pinned package. Any other (from an
installed tutorial pack, or a ``--tutorial-path`` folder) is copied into the export, and
the grading command is given its folder with ``--tutorial-path``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_tutorial.bundled import is_litter
from pytest_tutorial.discovery import BUNDLED_ROOT, TutorialSource, find_tutorials
from pytest_tutorial.document import parse_tutorial
from pytest_tutorial.model import Tutorial, ValidationMethod

from .package import ExportError


@dataclass(frozen=True)
class Exported:
    """The tutorial of an export."""

    source: TutorialSource
    tutorial: Tutorial

    @property
    def carried(self) -> bool:
        """True when the export must carry the tutorial's folder (not in this package)."""
        return self.source.directory.parent.resolve() != BUNDLED_ROOT.resolve()

    @property
    def automated_items(self) -> tuple[str, ...]:
        """The ids of the Validation Checklist items that checks cover."""
        return tuple(item.id for item in self.tutorial.validation_items if not item.explicit_manual)


def find(name: str, tutorial_paths: tuple[Path, ...] = ()) -> Exported:
    """The tutorial ``name`` among ``tutorial_paths``, packs and the bundled ones."""
    try:
        tutorials = find_tutorials((*tutorial_paths, BUNDLED_ROOT))
        source = tutorials.get(name)
        if source is None:
            known = ", ".join(sorted(tutorials)) or "none"
            raise ExportError(f"no tutorial called {name!r}; the tutorials: {known}")
        tutorial = parse_tutorial(source.document, name)
    except pytest.UsageError as error:
        raise ExportError(str(error)) from None
    if tutorial.metadata.validation_method is not ValidationMethod.AUTOMATED:
        raise ExportError(
            f"{source.document}: tutorial {name} has validation_method: "
            f"{tutorial.metadata.validation_method.value}; only an automated tutorial can be "
            "graded (set validation_method: automated and give it checks)"
        )
    return Exported(source=source, tutorial=tutorial)


def copy_folder(exported: Exported, target: Path) -> list[Path]:
    """Copy the tutorial's folder (without caches) to ``target``; returns the files."""
    copied: list[Path] = []
    for path in sorted(exported.source.directory.rglob("*")):
        relative = path.relative_to(exported.source.directory)
        if path.is_file() and not is_litter(relative):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / relative)
            copied.append(target / relative)
    return copied
