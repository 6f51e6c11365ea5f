"""Per-submission output formats as plugins: the hook, the built-in formats, and loading.

``grade`` writes each submission's ``report.json`` (the contract) and ``output.txt``
itself; every other file comes from an implementation of
:func:`FormatSpec.pytest_tutorial_write_report`. Gradescope's ``results.json`` and JUnit
XML are the two built in; another package adds a format by exposing a plugin object (or
module) in the entry point group ``pytest_tutorial.formats`` (docs/ci.md, "Output
formats"), marked with :data:`pytest_tutorial.hookimpl`.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pluggy

from pytest_tutorial.report_model import Report

from . import outputs

PROJECT = "pytest_tutorial"
ENTRY_POINT_GROUP = "pytest_tutorial.formats"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class FormatSpec:
    """The hook every output format implements."""

    @hookspec
    def pytest_tutorial_write_report(self, report: Report, folder: Path) -> None:
        """Write one graded submission's ``report`` in this format into ``folder``.

        ``folder`` is the submission's own (``OUT/submissions/<id>/``); every string of the
        report is already safe to write in any text format. Raising marks the submission's
        outputs as not written, and ``grade`` falls back to a minimal report for it.
        """


class Gradescope:
    """Gradescope's autograder ``results.json``."""

    @hookimpl
    def pytest_tutorial_write_report(self, report: Report, folder: Path) -> None:
        """Write ``results.json``."""
        text = json.dumps(outputs.gradescope(report), indent=2) + "\n"
        outputs.write_text(folder / outputs.GRADESCOPE_NAME, text)


class JUnit:
    """JUnit XML, which CI systems show as test results."""

    @hookimpl
    def pytest_tutorial_write_report(self, report: Report, folder: Path) -> None:
        """Write ``junit.xml``."""
        outputs.write_text(folder / outputs.JUNIT_NAME, outputs.junit(report))


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    """The formats: the built-in two and those installed packages add (loaded once)."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(FormatSpec)
    manager.register(Gradescope(), name="gradescope")
    manager.register(JUnit(), name="junit")
    manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return manager


def write_formats(report: Report, folder: Path) -> None:
    """Every format's files for one submission."""
    plugin_manager().hook.pytest_tutorial_write_report(report=report, folder=folder)
