"""Find the tutorials that can be run: each is a folder with ``tutorial.md`` and check modules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_tutorial.errors import usage_error

BUNDLED_ROOT = Path(__file__).parent / "tutorials"
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


def find_tutorials(roots: tuple[Path, ...] = (BUNDLED_ROOT,)) -> dict[str, TutorialSource]:
    """Every folder under ``roots`` that holds a tutorial document, by id (folder name)."""
    found: dict[str, TutorialSource] = {}
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
