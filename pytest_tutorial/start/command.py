"""``pytest-tutorial start NAME [DIR]``: a tutorial's starter code in a folder of your own.

For a learner with nothing but the installed package: it lays out the starter code, its
``tests/`` folder, the tutorial document and a ``pytest.ini`` in DIR (default ``./NAME``;
see :mod:`pytest_tutorial.start.layout`), then prints the two commands that check it.
``--reference`` lays out the reference solution instead (default ``./NAME-reference``), for
instructors. DIR must not exist or be empty: start never overwrites anything. Tutorials are
those bundled in the package and in installed tutorial packs.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

NAME = "start"
HELP = "lay out a tutorial's starter code, its tests and the tutorial in a folder of yours"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``start``."""
    parser.add_argument("name", metavar="NAME", help="the tutorial (pytest --tutorial-list)")
    parser.add_argument(
        "dir",
        metavar="DIR",
        nargs="?",
        type=Path,
        help="the folder to create; it must not exist or be empty (default: ./NAME, or "
        "./NAME-reference with --reference)",
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="lay out the reference solution instead of the starter (for instructors)",
    )


def run(args: argparse.Namespace) -> int:
    """Lay out the folder; 0 on success, 2 when nothing was written."""
    import pytest

    from pytest_tutorial import __version__
    from pytest_tutorial.bundled import reference_of, starter_of
    from pytest_tutorial.discovery import find_tutorials
    from pytest_tutorial.document import parse_tutorial
    from pytest_tutorial.start.layout import Origin, lay_out

    name: str = args.name
    try:
        tutorials = find_tutorials()
        source = tutorials.get(name)
        if source is None:
            known = ", ".join(sorted(tutorials)) or "none"
            return _refuse(f"no tutorial called {name!r}; the tutorials: {known}")
        tutorial = parse_tutorial(source.document, name)
    except pytest.UsageError as error:
        return _refuse(str(error))
    what = "reference solution" if args.reference else "starter code"
    code = reference_of(source) if args.reference else starter_of(source)
    if code is None:
        return _refuse(
            f"this installation has no {what} of {name} to lay out (the tutorial is "
            f"{source.directory})"
        )
    shown: Path = args.dir or Path(f"{name}-reference" if args.reference else name)
    target = Path.cwd() / shown
    if target.is_file() or (target.is_dir() and any(target.iterdir())):
        return _refuse(
            f"{shown} is not an empty folder, and start never overwrites anything; "
            "name another folder, or move this one away"
        )
    origin = Origin(
        name=name,
        title=tutorial.metadata.title,
        tutorial_version=tutorial.metadata.version,
        package_version=__version__,
        code=code,
        document=source.document,
        reference=args.reference,
    )
    try:
        files = lay_out(origin, target)
    except OSError as error:
        return _refuse(f"could not write {shown}: {error}")
    print(f"{tutorial.metadata.title}: the {what} of {name} is in {shown}/")
    for file in files:
        print(f"  {file}")
    print(f"Read {shown / 'TUTORIAL.md'}, then check your work:")
    print(f"  cd {shlex.quote(str(shown))}")
    print(f"  pytest --tutorial={name}")
    print(f"(pytest-tutorial watch {name} checks it again each time you save a file)")
    return 0


def _refuse(message: str) -> int:
    print(f"start: nothing was written: {message}")
    return 2
