"""The paths a tutorial run collects: its check modules and the folders that hold them.

A run's checks are given to pytest as explicit paths (:func:`.activation.activate`).
pytest still lists every folder on the way down to each of them and asks every plugin about
each entry off that way: whether to ignore it (the ``collect_ignore`` lists of the conftests
along the way, ``--ignore``, virtualenvs, ``norecursedirs``), then whether it is a test file
or a folder to collect. For the bundled tutorials of a checkout that is some 170 entries,
the package's own folder among them, and every run paid it again: each graded submission,
each ``watch`` rerun, each mutant of ``verify`` (12 ms of CPU in a forked run). Only the
check modules are collected in the end, so :class:`CheckModulesOnly` answers first, for
every path off the way: ignore it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pytest


class CheckModulesOnly:
    """Plugin: pytest ignores every path but the check modules and their folders."""

    def __init__(self, modules: Iterable[Path]) -> None:
        paths = {Path(os.path.abspath(module)) for module in modules}
        self._collected = paths | {folder for path in paths for folder in path.parents}

    @pytest.hookimpl(tryfirst=True)
    def pytest_ignore_collect(self, collection_path: Path) -> bool | None:
        """True for any path that is neither a check module nor a folder holding one."""
        return None if collection_path in self._collected else True
