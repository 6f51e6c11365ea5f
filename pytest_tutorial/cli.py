"""The ``pytest-tutorial`` command: a thin dispatcher over subcommands in their own modules.

Each subcommand module has ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int`` (the exit status); adding one is adding its module to
:data:`SUBCOMMANDS`. The modules import their heavy parts inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

SUBCOMMANDS = (
    "pytest_tutorial.start.command",
    "pytest_tutorial.grading.command",
    "pytest_tutorial.grading.merge",
    "pytest_tutorial.export.command",
    "pytest_tutorial.verify.command",
    "pytest_tutorial.hidden_bugs_command",
    "pytest_tutorial.scaffold.command",
    "pytest_tutorial.watch",
)


def _modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in SUBCOMMANDS]


def build_parser() -> argparse.ArgumentParser:
    """The parser with one sub-parser per subcommand."""
    return _parsers()[0]


def _parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The command's parser, and each subcommand's by name."""
    from pytest_tutorial import __version__

    parser = argparse.ArgumentParser(
        prog="pytest-tutorial",
        description="Tools around pytest-tutorial's checks (the checks themselves run with "
        "`pytest --tutorial=NAME`).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    subcommands = {}
    for module in _modules():
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
        subcommands[module.NAME] = sub
    return parser, subcommands


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the subcommand; returns the exit status."""
    args = parse(sys.argv[1:] if argv is None else list(argv))
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def parse(arguments: list[str]) -> argparse.Namespace:
    """The parsed command line, positionals allowed after options.

    ``start caching --reference ref`` names the folder after an option, which plain
    argparse rejects once a subcommand's positionals were matched ("unrecognized
    arguments: ref"); such a command line is parsed again intermixed, as a user means it.
    """
    parser, subcommands = _parsers()
    args, unknown = parser.parse_known_args(arguments)
    if unknown and not any(value.startswith("-") for value in unknown):
        rest = arguments[arguments.index(args.command) + 1 :]
        try:
            intermixed = subcommands[args.command].parse_intermixed_args(rest)
        except TypeError:  # a subcommand taking the rest verbatim: not intermixable
            pass
        else:
            intermixed.command = args.command
            return intermixed
    return parser.parse_args(arguments)
