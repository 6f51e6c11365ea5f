"""``pytest-tutorial export``: an LMS's grading glue for a tutorial, in one command.

- ``export gradescope NAME [--out FILE]``: an ``autograder.zip`` that Gradescope takes as
  it is (:mod:`.gradescope_bundle`);
- ``export github-classroom NAME [--out DIR]``: a starter repository whose workflow grades
  each push and reports the points to GitHub Classroom (:mod:`.classroom`).

Exit status 0 when the export was written, 2 (with nothing written) for a usage mistake:
an unknown or non-automated tutorial, an unknown checklist item, a folder that is not
empty, a wheel that cannot be built.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

NAME = "export"
HELP = (
    "write what an LMS needs to grade a tutorial: a Gradescope autograder.zip, or a GitHub "
    "Classroom starter repository with its workflow"
)
GRADESCOPE = "gradescope"
CLASSROOM = "github-classroom"
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the tutorial (pytest --tutorial-list)")
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=300.0,
        metavar="S",
        help="wall-clock limit of grading one submission (default %(default)g s)",
    )
    parser.add_argument(
        "--sandbox",
        choices=("auto", "bwrap", "none"),
        default="auto",
        help="grade's --sandbox where it grades (default auto: bubblewrap where it runs, "
        "else resource limits only, with a note in the results)",
    )
    parser.add_argument(
        "--package",
        choices=("auto", "wheel", "index"),
        default="auto",
        help="how grading gets pytest-tutorial: wheel (built now, carried in the export), "
        "index (this version from the package index); auto: wheel from a checkout, "
        "else index",
    )
    parser.add_argument(
        "--tutorial-path",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="extra folder holding tutorials (searched before the bundled ones); a tutorial "
        "found there is carried in the export",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The two targets of ``export`` and their options."""
    targets = parser.add_subparsers(dest="export_target", metavar="TARGET", required=True)
    scope = targets.add_parser(
        GRADESCOPE,
        help="an autograder.zip for Gradescope",
        description="Write an autograder.zip for a Gradescope programming assignment.",
    )
    _common(scope)
    scope.add_argument(
        "--out",
        type=Path,
        default=Path("autograder.zip"),
        metavar="FILE",
        help="the zip to write (default %(default)s; an older one is replaced)",
    )
    scope.add_argument(
        "--visibility",
        choices=VISIBILITIES,
        default="visible",
        help="when students see each check's result (default %(default)s)",
    )
    scope.add_argument(
        "--hidden-item",
        action="append",
        default=[],
        metavar="ITEM",
        help="a checklist item whose checks are hidden from students (repeatable)",
    )
    scope.add_argument(
        "--hide-messages",
        action="store_true",
        help="checks not visible show only their status once shown: no message, hint or step",
    )
    classroom = targets.add_parser(
        CLASSROOM,
        help="a starter repository with a GitHub Classroom autograding workflow",
        description="Write a GitHub Classroom starter repository: the starter code and a "
        "workflow that grades each push and reports the points.",
    )
    _common(classroom)
    classroom.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="the folder to create; it must not exist or be empty (default ./NAME-classroom)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the export; 0 when written, 2 with nothing written."""
    from pytest_tutorial.export.package import ExportError

    try:
        if args.export_target == GRADESCOPE:
            return _gradescope(args)
        return _classroom(args)
    except ExportError as error:
        print(f"export: nothing was written: {error}")
        return 2


def _gradescope(args: argparse.Namespace) -> int:
    from pytest_tutorial import __version__
    from pytest_tutorial.export import gradescope_bundle, package, tutorial_files
    from pytest_tutorial.export.gradescope_settings import Settings, Visibility

    exported = tutorial_files.find(args.name, tuple(args.tutorial_path))
    known = exported.automated_items
    unknown = [item for item in args.hidden_item if item not in known]
    if unknown:
        raise package.ExportError(
            f"--hidden-item {', '.join(unknown)}: tutorial {args.name} has no such automated "
            f"checklist item; its items: {', '.join(known)}"
        )
    settings = Settings(
        tutorial=args.name,
        package_version=__version__,
        visibility=Visibility(args.visibility),
        hidden_items=tuple(dict.fromkeys(args.hidden_item)),
        hide_messages=args.hide_messages,
        timeout_s=args.timeout,
        sandbox=args.sandbox,
        carries_tutorial=exported.carried,
    )
    with tempfile.TemporaryDirectory(prefix="pytest-tutorial-export-") as scratch:
        pin = package.resolve(package.PackageMode(args.package), __version__, Path(scratch))
        bundle = gradescope_bundle.write(exported, settings, pin, Path.cwd() / args.out)
    print(f"{exported.tutorial.metadata.title}: Gradescope autograder in {args.out}")
    for name in bundle.files:
        print(f"  {name}")
    installs = "the wheel it carries" if pin.wheel else f"pytest-tutorial=={pin.version}"
    print(f"Upload it in the assignment's Configure Autograder page; setup.sh installs {installs}.")
    return 0


def _classroom(args: argparse.Namespace) -> int:
    from pytest_tutorial import __version__
    from pytest_tutorial.bundled import starter_of
    from pytest_tutorial.export import classroom, package, tutorial_files

    exported = tutorial_files.find(args.name, tuple(args.tutorial_path))
    starter = starter_of(exported.source)
    if starter is None:
        raise package.ExportError(
            f"this installation has no starter code of {args.name} to lay out (the tutorial "
            f"is {exported.source.directory})"
        )
    shown: Path = args.out or Path(f"{args.name}-classroom")
    target = Path.cwd() / shown
    if target.is_file() or (target.is_dir() and any(target.iterdir())):
        raise package.ExportError(
            f"{shown} is not an empty folder, and export never overwrites one; name another "
            "folder with --out, or move this one away"
        )
    with tempfile.TemporaryDirectory(prefix="pytest-tutorial-export-") as scratch:
        pin = package.resolve(package.PackageMode(args.package), __version__, Path(scratch))
        try:
            files = classroom.write(
                exported,
                pin,
                target,
                timeout_s=args.timeout,
                sandbox=args.sandbox,
                starter=starter,
            )
        except OSError as error:
            raise package.ExportError(f"could not write {shown}: {error}") from None
    print(f"{exported.tutorial.metadata.title}: GitHub Classroom starter repository in {shown}/")
    for file in files:
        print(f"  {file}")
    print(
        f"Push {shown} to a template repository and create the assignment from it; every "
        f"push is graded by {classroom.WORKFLOW.as_posix()}."
    )
    return 0
