"""The run's solution and reference solution, each imported once, here or in a worker.

:class:`SolutionImports` is the part of a tutorial session that knows where the code under
test lives and how to load it: in the pytest process (``--tutorial-isolation=process``) or
through the run's :class:`~pytest_tutorial.isolation.solutions.SolutionWorkers`. A failed
import is kept and raised again on every later call; a worker that ended since the import
imports the solution afresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_tutorial.bundled import reference_to_compare
from pytest_tutorial.discovery import TutorialSource
from pytest_tutorial.model import Tutorial
from pytest_tutorial.options import REFERENCE_ROOT, IsolationMode, Settings
from pytest_tutorial.solution import Solution, SolutionImportError, load_solution
from pytest_tutorial.timeouts import CheckTimeout

if TYPE_CHECKING:
    from pytest_tutorial.isolation.solutions import SolutionWorkers


class SolutionImports:
    """The solution and the reference of one run, imported on first use."""

    def __init__(
        self, config: pytest.Config, settings: Settings, source: TutorialSource, tutorial: Tutorial
    ) -> None:
        self.config = config
        self.settings = settings
        self.source = source
        self.tutorial = tutorial
        self._solution: Solution | SolutionImportError | None = None
        self._reference: tuple[Solution | None, str] | None = None
        self.workers: SolutionWorkers | None = None  # with --tutorial-isolation=worker

    @property
    def failure(self) -> SolutionImportError | None:
        """Why the solution could not be imported, once an import failed."""
        return self._solution if isinstance(self._solution, SolutionImportError) else None

    def solution(self) -> Solution:
        """Import the solution once; every later call returns it or re-raises its failure."""
        __tracebackhide__ = True
        # a worker that ended since the import: a fresh one imports the solution again
        if self._solution is None or getattr(self._solution, "current", True) is False:
            try:
                self._solution = self._load(
                    self.settings.solution, self.settings.solution_kind.value
                )
            except SolutionImportError as error:
                self._solution = error
            except CheckTimeout as timeout:
                self._solution = SolutionImportError(
                    f"importing the solution did not finish within {timeout.seconds:g} s "
                    "(an endless loop or a blocking call at import time?)"
                )
                raise
        if isinstance(self._solution, SolutionImportError):
            raise SolutionImportError(str(self._solution))
        return self._solution

    def reference_solution(self) -> tuple[Solution | None, str]:
        """The reference solution to compare performance with, or None and the reason.

        It is the one ``grade``'s child was given (worker mode), else
        ``reference_solutions/NAME`` under the rootdir, else the one the tutorial ships
        (:func:`pytest_tutorial.bundled.reference_to_compare`: not in a grading child); a run
        whose solution is that folder compares the solution with itself.
        """
        if self._reference is None or getattr(self._reference[0], "current", True) is False:
            from pytest_tutorial.isolation.launcher import GRADING_REFERENCE_KEY

            graded = self.config.stash.get(GRADING_REFERENCE_KEY, None)
            path = graded or self.settings.rootdir / REFERENCE_ROOT / self.tutorial.id
            if not path.is_dir():
                path = reference_to_compare(self.source) or path
            if path.resolve() == self.settings.solution.resolve():
                self._reference = (self.solution(), "")
            elif not path.is_dir():
                self._reference = (None, f"no reference solution at {path}")
            else:
                try:
                    self._reference = (self._load(path, "reference"), "")
                except SolutionImportError as error:
                    self._reference = (
                        None,
                        f"the reference solution could not be imported: {error}",
                    )
        return self._reference

    def _load(self, path: Path, kind: str) -> Solution:
        """Import a solution here, or in its worker with ``--tutorial-isolation=worker``."""
        __tracebackhide__ = True
        assert self.tutorial.validation is not None
        contract = self.tutorial.validation.solution
        if self.settings.isolation is IsolationMode.PROCESS:
            return load_solution(path, kind, contract)
        return self.solution_workers().load(path, kind, contract)

    def solution_workers(self) -> SolutionWorkers:
        """The run's workers, started on first use."""
        if self.workers is None:
            from pytest_tutorial.isolation.launcher import launcher_of
            from pytest_tutorial.isolation.solutions import SolutionWorkers

            self.workers = SolutionWorkers(
                self.config.invocation_params.dir, launcher_of(self.config)
            )
        return self.workers
