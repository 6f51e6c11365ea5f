"""Keep what a tutorial run holds before its checks out of its garbage collections.

A tutorial run imports pytest's plugins, hypothesis, fakeredis or moto and the checks:
hundreds of thousands of objects that live as long as the run. Every full collection
walks all of them: the ones Python triggers while the plugins and the check modules are
imported, the five pytest makes in a row when the session ends (to report exceptions
raised in ``__del__``, about 60 ms each) and the one at interpreter exit, all on the run's
critical path, in the learner's terminal and in every graded submission.

The run moves them to the permanent generation (:func:`gc.freeze`, as the warm servers do
before they fork) once the tutorial is named (``plugin.py``), once it is set up
(:func:`track`) and once the checks are collected (:class:`FrozenImports`); what the
checks and the learner's code allocate is collected as before. They stay frozen to the end
of the process, unless the run was made inside another pytest run's test
(``PYTEST_CURRENT_TEST`` is set: a pytester run in-process): that run unfreezes them when
it is over, after pytest's own last collections, so the process that goes on collects
them as before.
"""

from __future__ import annotations

import gc
import os

import pytest

_ARRANGED = pytest.StashKey[bool]()


def freeze(config: pytest.Config) -> None:
    """Freeze every object tracked now; the first call for ``config`` arranges the thaw.

    The first call comes before pytest's own plugins add their clean-ups: those run last
    in, first out, so the unfreezing comes after the collections of the unraisable-exception
    report. ``PYTEST_CURRENT_TEST`` is read now: the run's own tests unset it.
    """
    if not config.stash.get(_ARRANGED, False):
        config.stash[_ARRANGED] = True
        if "PYTEST_CURRENT_TEST" in os.environ:
            config.add_cleanup(gc.unfreeze)
    gc.freeze()


def track(config: pytest.Config) -> None:
    """Freeze now (the tutorial's plugins and fixtures are loaded) and after collection."""
    config.pluginmanager.register(FrozenImports(), "tutorial-frozen-imports")
    freeze(config)


class FrozenImports:
    """Freezes the heap once collection is over."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """The check modules, their fixtures and the items stay until the run ends."""
        freeze(session.config)
