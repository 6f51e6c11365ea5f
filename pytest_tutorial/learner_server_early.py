"""The warm server of the learner's test runs, asked for as soon as the options are known.

Each run of the learner's tests forks from a warm server (:mod:`pytest_tutorial.learner_tests`)
that takes about half a second to start, and a run's runs start when it is ready: they are
the end of a first run, and of a rerun, on the clock. The tutorial's activation asks for it
(:mod:`pytest_tutorial.fixtures.learner`), but only once pytest has loaded every plugin,
the initial ``conftest.py`` files and configured the run. Asked for here, from
``pytest_load_initial_conftests``, it starts about 0.2 s sooner; the activation then finds
it (servers are shared by kind) instead of starting another.

Nothing is asked for when the runs may not happen (a selection, ``--collect-only``, ``-n``),
when ``watch`` keeps a server for the runs of every save (:data:`SHARED_SERVER_VARIABLE`),
when the solution has no ``tests`` folder or cannot be found (the activation reports that),
when a plugin will put a grader's launcher in the stash (the grader forks the server from
its job slot's warm process, as a learner process), or when the process gives up root only
once the checks are collected (a grading child that runs the submission in its own process:
a server started sooner would keep root). When the solution's code uses AWS the
server starts before the tutorial's sandbox is set, so it starts in the sandbox's
environment (:func:`~pytest_tutorial.aws_sandbox.sandboxed_environment`: fake credentials,
dead proxies, no learner profile); each run gets the run's whole environment in any case.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest

from pytest_tutorial.isolation.launcher import learner_processes_wait
from pytest_tutorial.learner_layout import TESTS_FOLDER, solution_layout
from pytest_tutorial.learner_model import LearnerTestsError
from pytest_tutorial.learner_tests import (
    SHARED_SERVER_VARIABLE,
    prepare,
    runs_everything,
    stop_all,
)
from pytest_tutorial.options import solution_folder

THREAD_NAME = "learner-tests-warm-early"


def ask_for_the_runs_server(early_config: pytest.Config, name: str) -> None:
    """Start the runs' warm server in the background, if this run of ``name`` will need it.

    Only a head start: whatever goes wrong here is left for the activation, which asks
    again and reports it.
    """
    with contextlib.suppress(Exception):
        solution = _solution_needing_a_server(early_config, name)
        if solution is not None:
            early_config.add_cleanup(stop_all)  # also when the run ends before its session
            threading.Thread(
                target=_prepare, args=(solution,), daemon=True, name=THREAD_NAME
            ).start()


def _solution_needing_a_server(early_config: pytest.Config, name: str) -> Path | None:
    """The solution folder whose runs' server to start now, or None (see the module)."""
    # An xdist worker cannot be told apart yet (its variable is also every nested run's):
    # its server, if its checks include the runs, is then this one.
    if not runs_everything(early_config.known_args_namespace, xdist_worker=False):
        return None
    if os.environ.get(SHARED_SERVER_VARIABLE):
        return None  # watch keeps a server warm for every save's runs: nothing to start
    if learner_processes_wait(early_config.pluginmanager):
        return None
    solution, _ = solution_folder(early_config, name)
    return solution if (solution / TESTS_FOLDER).is_dir() else None


def _prepare(solution: Path) -> None:
    """The server for the solution's kind of runs."""
    with contextlib.suppress(LearnerTestsError, OSError):  # the activation meets it again
        prepare(solution_layout(solution, ""))
