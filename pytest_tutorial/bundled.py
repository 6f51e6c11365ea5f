"""Where a tutorial's starter code and reference solution are, when a course folder has none.

A course repository keeps them at its top level (``exercises/NAME``,
``reference_solutions/NAME``). An installed package carries its own copies, so that a
learner with nothing but ``pip install pytest-tutorial`` can lay out the starter
(``pytest-tutorial start``) and the harness can compare performance with the reference:

- the tutorials bundled in this package: ``pytest_tutorial/_bundled/{exercises,
  reference_solutions}/NAME`` in a wheel (``setup.py`` copies them there at build time),
  else the repository's own folders in a source or editable checkout;
- any other tutorial folder ``ROOT/NAME`` (a tutorial pack, a ``tutorial_paths`` folder):
  ``ROOT/_bundled/{exercises,reference_solutions}/NAME``, beside the tutorial folders.

Checks never see these folders directly: grading hides the packaged references from the
sandbox (:func:`pytest_tutorial.grading.submission.hidden_roots`).
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_tutorial.discovery import BUNDLED_ROOT, TutorialSource, find_tutorials
from pytest_tutorial.options import LEARNER_ROOT, REFERENCE_ROOT

BUNDLE_FOLDER = "_bundled"
"""The folder, beside a root's tutorial folders, that holds their starters and references."""
PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_ROOT = PACKAGE_DIR / BUNDLE_FOLDER
"""This package's copies (present in a wheel install only)."""
CHECKOUT_ROOT = PACKAGE_DIR.parent
"""The repository, when this package is imported from a source or editable checkout."""


def is_litter(relative: Path) -> bool:
    """Caches and tool litter (``__pycache__``, dot folders, bytecode), never laid out.

    ``setup.py`` applies the same rule to what a wheel ships.
    """
    litter = any(part == "__pycache__" or part.startswith(".") for part in relative.parts)
    return litter or relative.suffix in (".pyc", ".pyo")


def starter_of(source: TutorialSource) -> Path | None:
    """The folder of the tutorial's starter code, or None when there is none to be found."""
    return _first_folder(_candidates(source, LEARNER_ROOT))


def reference_of(source: TutorialSource) -> Path | None:
    """The folder of the tutorial's reference solution, or None when there is none."""
    return _first_folder(_candidates(source, REFERENCE_ROOT))


def reference_to_compare(source: TutorialSource) -> Path | None:
    """The shipped reference a run compares performance with; never found by a grading child.

    A grading child is given its reference by the grader, and only with workers (docs/ci.md):
    a reference measured in a child that runs the submission's code in its own process
    would be in the submission's reach, so that mode judges by the absolute target.
    """
    from pytest_tutorial.grading.sandbox import MARKER_VARIABLE

    return None if os.environ.get(MARKER_VARIABLE) else reference_of(source)


def reference_named(name: str, roots: tuple[Path, ...] = (BUNDLED_ROOT,)) -> Path | None:
    """The reference of the tutorial called ``name`` among ``roots`` (None: no tutorial, none)."""
    source = find_tutorials(roots).get(name)
    return None if source is None else reference_of(source)


def packaged_references() -> list[Path]:
    """This package's folder of references, where it exists (a wheel install)."""
    folder = PACKAGED_ROOT / REFERENCE_ROOT
    return [folder] if folder.is_dir() else []


def is_checkout() -> bool:
    """True when this package is imported from the repository (source or editable install)."""
    try:
        project = (CHECKOUT_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return False
    return 'name = "pytest-tutorial"' in project


def _candidates(source: TutorialSource, kind: str) -> list[Path]:
    root = source.directory.parent
    if root.resolve() != BUNDLED_ROOT.resolve():
        return [root / BUNDLE_FOLDER / kind / source.id]
    found = [PACKAGED_ROOT / kind / source.id]
    if is_checkout():
        found.append(CHECKOUT_ROOT / kind / source.id)
    return found


def _first_folder(candidates: list[Path]) -> Path | None:
    return next((path for path in candidates if path.is_dir()), None)
