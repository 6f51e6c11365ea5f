"""``pytest-tutorial start``: a learner's own folder with a tutorial's starter code.

:mod:`~pytest_tutorial.start.command` is the subcommand, :mod:`~pytest_tutorial.start.layout`
writes the folder. :func:`command_line` is what messages elsewhere tell the learner to run.
"""

from __future__ import annotations

PROGRAM = "pytest-tutorial start"


def command_line(name: str, *, reference: bool = False) -> str:
    """The command that lays out tutorial ``name``'s starter (or its reference)."""
    return f"{PROGRAM} {name}" + (" --reference" if reference else "")
