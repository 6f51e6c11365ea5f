"""How the trusted process starts a process that runs learner code, when someone says how.

A tutorial run on a learner's machine starts its workers and its learner-test runs as
plain children. ``pytest-tutorial grade`` puts a :class:`Launcher` in the config's stash
(:data:`LAUNCHER_KEY`) before any plugin is configured: every process that runs learner
code (the solution's workers, the warm server of the learner's test runs) is then started
through it, or forked by a job slot's warm server, limited and under the job slot's own uid
(:class:`~pytest_tutorial.grading.learner_box.LearnerBox`), and every folder such a
process must write is handed over first.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from pytest_tutorial.isolation.exits import WorkerExit

if TYPE_CHECKING:
    from pytest_tutorial.isolation.worker_process import WorkerProcess
    from pytest_tutorial.warm import WarmServer


class Launcher(Protocol):
    """What the harness needs to start a learner process contained."""

    def prefix(self, cwd: Path) -> list[str]:
        """The command line that runs what follows it as a learner process."""
        ...

    def environment(self) -> dict[str, str]:
        """The learner process's whole environment."""
        ...

    def fork_server(
        self,
        config: Mapping[str, Any],
        *,
        warmed_up: Sequence[int],
        env: Mapping[str, str],
        cwd: Path,
    ) -> WarmServer | None:
        """A warm server forked as a learner process from a warm one, or None.

        ``config``: its imports and warm-up run, as :meth:`WarmServer.start` takes them.
        None: start it through :meth:`prefix` instead.
        """
        ...

    def fork_worker(self, channel: socket.socket, cwd: Path) -> WorkerProcess | None:
        """A solution's worker serving on ``channel``, forked as a learner process, or None.

        None: start it through :meth:`prefix` instead.
        """
        ...

    def fork_trusted_worker(self, channel: socket.socket, cwd: Path) -> WorkerProcess | None:
        """The reference's worker serving on ``channel``, forked as the trusted side's, or None.

        Not a learner process: the caller's uid, with the limits the caller runs under, as
        a plain child of the caller would have. None: start it as a plain child instead.
        """
        ...

    def give(self, folder: Path) -> None:
        """Let the learner process write ``folder`` and what is in it."""
        ...

    def describe_exit(self, end: WorkerExit) -> str:
        """How a learner process ended, naming the limit that ended it, if one did."""
        ...


LAUNCHER_KEY = pytest.StashKey["Launcher"]()
"""Where ``grade``'s child puts its launcher for the session to find."""
PROVIDES_LAUNCHER = "provides_launcher"
"""The attribute, true, of a plugin that will put a launcher in the stash: nothing may start
a learner process plainly before it has (:mod:`pytest_tutorial.learner_server_early`)."""
SEALS_AFTER_COLLECTION = "seals_after_collection"
"""The attribute, true, of a plugin that gives up root once the checks are collected
(``grade``'s child running the submission in its own process): a learner process started
before then would keep root, so none starts until collection ends."""
GRADING_REFERENCE_KEY = pytest.StashKey[Path]()
"""Where ``grade``'s child puts the reference solution it was given, which the relative
performance target compares with (its worker is the trusted side's, not the learner's)."""
GRADING_BUGS_KEY = pytest.StashKey[Path]()
"""Where ``grade``'s child finds the tutorial's bug modules, built once for the batch by the
parent and fed to it (:mod:`pytest_tutorial.tutorial_bugs`), kept as a tutorial run keeps
them."""


def learner_processes_wait(plugins: pytest.PytestPluginManager) -> bool:
    """Whether a plugin says no learner process may start plainly yet.

    One will put a launcher in the stash (:data:`PROVIDES_LAUNCHER`), or the process gives
    up root at the end of collection (:data:`SEALS_AFTER_COLLECTION`).
    """
    return any(
        getattr(plugin, PROVIDES_LAUNCHER, False) or getattr(plugin, SEALS_AFTER_COLLECTION, False)
        for plugin in plugins.get_plugins()
    )


def launcher_of(config: pytest.Config) -> Launcher | None:
    """The launcher someone put in ``config``'s stash, or None (plain children)."""
    return config.stash.get(LAUNCHER_KEY, None)
