"""Keep what a tutorial run imported out of its garbage collections.

A tutorial run imports pytest's plugins, hypothesis, fakeredis or moto and the checks:
hundreds of thousands of objects that live as long as the run. Every full collection
walks all of them, and pytest makes five in a row when the session ends (to report
exceptions raised in ``__del__``), about 60 ms each: a third of a second on every run's
critical path, in the learner's terminal and in every graded submission.

Once collection is over, :class:`FrozenImports` freezes what is alive (:func:`gc.freeze`,
without a collection first: the start-up leaves little garbage): later collections skip
those objects and still collect everything the checks create, and so does the one at
interpreter exit (about 0.2 s with moto and boto3 loaded). A run made inside another
pytest run's test (``PYTEST_CURRENT_TEST`` is set: a pytester run in-process) unfreezes
them when it is over, after pytest's own last collections, so the process that goes on
collects them as before; :func:`track` registers both.
"""

from __future__ import annotations

import gc
import os

import pytest


def track(config: pytest.Config) -> None:
    """Freeze the heap once collection is over; unfreeze it at the end inside another run.

    Called while the tutorial is configured, before pytest's own plugins add their
    clean-ups: those run last in, first out, so the unfreezing comes after the
    collections of the unraisable-exception report.
    """
    config.pluginmanager.register(FrozenImports(), "tutorial-frozen-imports")
    if "PYTEST_CURRENT_TEST" in os.environ:  # read now: the run's own tests unset it
        config.add_cleanup(gc.unfreeze)


class FrozenImports:
    """Freezes the heap once collection is over."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Move everything alive now out of the collector's reach."""
        gc.freeze()
