"""What a run of the learner's own tests is about and what came of it.

The data the ``tests`` item's runs share (:mod:`.learner_tests` makes them,
:mod:`.learner_runner` runs each one in a child, :mod:`.learner_verdicts` judges them): the
implementations the tests run against, the folder every run lays out, and each run's
outcome per test.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
"""A test's outcome in one run (``error``: its setup or teardown failed)."""


class LearnerTestsError(Exception):
    """The learner's tests cannot be run at all; the message says why, for the learner."""


class Kind(enum.Enum):
    """What an implementation is, for the verdicts (the child never learns it)."""

    YOURS = "yours"
    CONTROL = "control"
    """A correct implementation built from the tutorial's ``known_bad.py``."""
    KNOWN = "known"
    HIDDEN = "hidden"


@dataclass(frozen=True)
class Implementation:
    """One implementation the learner's tests run against."""

    kind: Kind
    name: str = ""
    """The bug's name (``drops_ttl``, ``hidden bug 3``), empty for the others."""
    description: str = ""
    """What the bug does, for messages."""
    source: str | None = field(default=None, repr=False)
    """The module's source; None keeps the solution's own module."""


@dataclass(frozen=True)
class Layout:
    """What every run's folder holds: the solution's entries and the module's path."""

    solution: Path
    module: str
    """The contract's module name (``cache_service``)."""
    entries: tuple[str, ...]
    """The solution's top-level names to copy (files, packages, ``tests``)."""
    aws: bool = False
    """Whether the solution's code imports boto3, botocore or moto (what the server warms)."""
    redis: bool = True
    """Whether the solution's code imports redis or fakeredis (the server imports them)."""
    hypothesis: bool = False
    """Whether the tests mention hypothesis (the server has it look at its modules first)."""

    @property
    def module_path(self) -> str:
        """The module's file, relative to the folder."""
        return self.module.replace(".", "/") + ".py"


@dataclass(frozen=True)
class LearnerTestRun:
    """The outcome of one run of the learner's tests."""

    implementation: Implementation
    seed: int
    exit_code: int
    outcomes: Mapping[str, str]
    """Each test's node id (``tests/test_x.py::test_y``) and outcome."""
    collection_errors: tuple[str, ...]
    """One line per file that could not be collected."""
    output: str
    timed_out: bool = False
    crashed: bool = False
    """The process ended during the run (``os._exit``, a crash)."""

    def tests(self, *outcomes: str) -> list[str]:
        """The node ids of the tests that ended with one of ``outcomes``, in run order."""
        return [nodeid for nodeid, outcome in self.outcomes.items() if outcome in outcomes]

    @property
    def passed(self) -> int:
        """How many tests passed."""
        return len(self.tests(PASSED))

    @property
    def failed(self) -> int:
        """How many tests failed."""
        return len(self.tests(FAILED))

    @property
    def errors(self) -> int:
        """Tests whose setup or teardown failed, and files that could not be collected."""
        return len(self.tests(ERROR)) + len(self.collection_errors)

    @property
    def skipped(self) -> int:
        """How many tests were skipped."""
        return len(self.tests(SKIPPED))

    @property
    def collected(self) -> int:
        """How many tests ran."""
        return len(self.outcomes)

    @property
    def finished(self) -> bool:
        """The run came to its end (it neither hung nor ended its process)."""
        return not (self.timed_out or self.crashed)

    @property
    def all_passed(self) -> bool:
        """Every test passed or was skipped (and at least one passed)."""
        return self.finished and self.exit_code == 0 and self.passed > 0
