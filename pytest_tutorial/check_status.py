"""How a check ended, as a :class:`~pytest_tutorial.scoring.Status`: one rule for every run.

A tutorial run (:mod:`pytest_tutorial.session`) and the grading child's result stream
(:mod:`pytest_tutorial.grading.stream`) both judge a check from the exception it raised
and the phase (setup, call, teardown) it raised in; the messages that say a check did not
run or failed while cleaning up are written here too.
"""

from __future__ import annotations

import sys

import pytest

from pytest_tutorial.failures import MESSAGE_LIMIT, REPORT_CUT_NOTE, shorten
from pytest_tutorial.scoring import CheckResult, Status
from pytest_tutorial.solution import SolutionImportError
from pytest_tutorial.timeouts import timeout_in

DESELECTED = CheckResult(Status.SKIPPED, "not run (deselected)")
"""The result of a check a ``-k`` or ``-m`` selection left out."""
CLEANUP_FAILURE = "error while cleaning up after the check: "
"""Starts the message of a check whose teardown failed."""
WORKER_ENDED = "the process running your code ended during this check: "
"""Starts the message of a check whose worker process ended (``--tutorial-isolation=worker``):
the learner's code exited or crashed it. A fresh worker serves the next check."""


def worker_ended(error: BaseException) -> bool:
    """Whether ``error`` says the worker serving the learner's code is gone."""
    remote = sys.modules.get("pytest_tutorial.isolation.remote")  # loaded in worker mode only
    return remote is not None and isinstance(error, remote.WorkerGone)


def status_of(error: BaseException, when: str) -> Status:
    """The status of a check that raised ``error`` in phase ``when``.

    A time limit wins wherever it surfaced (also inside an exception group or as a cause);
    a solution that cannot be imported is an error; otherwise a failed call is ``failed``
    and a failed setup or teardown an ``error`` (the check could not be judged).
    """
    if isinstance(error, pytest.skip.Exception):
        return Status.SKIPPED
    if timeout_in(error) is not None:
        return Status.TIMEOUT
    if isinstance(error, SolutionImportError):
        return Status.ERROR
    return Status.FAILED if when == "call" else Status.ERROR


def bounded_message(text: str, when: str = "call") -> str:
    """A check's message as the report keeps it: a teardown's named, cut to the limit."""
    if when == "teardown" and not text.startswith(CLEANUP_FAILURE):
        text = CLEANUP_FAILURE + text
    return shorten(text, MESSAGE_LIMIT, rest=REPORT_CUT_NOTE)
