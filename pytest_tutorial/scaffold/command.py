"""``pytest-tutorial new NAME``: start a tutorial from the course template.

Writes, relative to the current folder (the course folder):

- ``tutorials/NAME/`` (or ``--into DIR/NAME/``): ``tutorial.md``, the template made
  automated with every placeholder still to fill in, and ``check_checklist.py``, one check
  per Validation Checklist item, each failing with "check not written yet";
- ``exercises/NAME/``: the learner's starter stubs, a README and a tests folder;
- ``reference_solutions/NAME/``: where the instructor writes the complete solution;

and adds the tutorials folder to the ini's ``tutorial_paths`` (or says what to add).
Nothing is overwritten: an existing folder stops it before anything is written.
``pytest-tutorial verify NAME`` then lists what is still missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_tutorial.scaffold.build import NewFile

NAME = "new"
HELP = "scaffold a new tutorial from the course template (then: pytest-tutorial verify NAME)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``new``."""
    parser.add_argument(
        "name",
        metavar="NAME",
        help="the tutorial's id: lower-case letters, digits and '_', starting with a letter",
    )
    parser.add_argument(
        "--into",
        type=Path,
        metavar="DIR",
        help="the folder of tutorials to create NAME/ in (default: ./tutorials, which is "
        "added to the ini's tutorial_paths)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the new tutorial's files; 0 on success, 2 when nothing could be written."""
    from pytest_tutorial.discovery import BUNDLED_ROOT, find_tutorials
    from pytest_tutorial.options import LEARNER_ROOT, REFERENCE_ROOT
    from pytest_tutorial.scaffold import build
    from pytest_tutorial.scaffold.ini import add_tutorial_path

    name: str = args.name
    if not build.NAME_PATTERN.match(name):
        print(
            f"new: {name!r} is not a valid tutorial id; use lower-case letters, digits and "
            "'_', starting with a letter (it names the folder and the learner's module)"
        )
        return 2
    course = Path.cwd()
    into = (args.into or course / "tutorials").resolve()
    folders = {
        "tutorial": into / name,
        "starter": course / LEARNER_ROOT / name,
        "reference": course / REFERENCE_ROOT / name,
    }
    taken = [f"{path} exists" for path in folders.values() if path.exists()]
    existing = find_tutorials().get(name)
    if existing is not None and existing.directory.resolve() != folders["tutorial"]:
        taken.append(f"a tutorial called {name} is already installed at {existing.directory}")
    if taken:
        print(f"new: nothing was written: {'; '.join(taken)}; pick another name")
        return 2
    written = _write(folders["tutorial"], build.document(name), build.CHECK_MODULE, name)
    written += _write_all(folders["starter"], build.starter_files(name))
    written += _write_all(folders["reference"], build.reference_files(name))
    print(f"created tutorial {name}:")
    for path in written:
        print(f"  {_show(path, course)}")
    if into != BUNDLED_ROOT.resolve():
        change = add_tutorial_path(course, into)
        print(("" if change.changed else "to do: ") + change.message)
    print(
        f"next: fill in {_show(folders['tutorial'] / 'tutorial.md', course)}, write the checks "
        f"and the reference; `pytest-tutorial verify {name}` lists what is still missing"
    )
    return 0


def _write(folder: Path, document: str, check_module: str, name: str) -> list[Path]:
    from pytest_tutorial.scaffold import build

    folder.mkdir(parents=True)
    (folder / "tutorial.md").write_text(document, encoding="utf-8")
    (folder / check_module).write_text(build.check_module(name), encoding="utf-8")
    written = [folder / "tutorial.md", folder / check_module]
    if (folder.parent / "__init__.py").is_file():
        # Inside a package (a bundled tutorial): its checks import helpers as a subpackage.
        init = folder / "__init__.py"
        init.write_text(f'"""The {name} tutorial: document and checks."""\n', encoding="utf-8")
        written.append(init)
    return written


def _write_all(folder: Path, files: list[NewFile]) -> list[Path]:
    written = []
    for new in files:
        path = folder / new.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new.text, encoding="utf-8")
        written.append(path)
    return written


def _show(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)
