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
(``PYTEST_CURRENT_TEST`` is set: a pytester run in-process). There the run leaves the heap
as it found it: if the outer process had frozen its own heap, the run freezes nothing (a
thaw would unfreeze the outer one's objects too, and what the run allocates is garbage once
it ends); if not, it freezes as above and unfreezes when it is over, after pytest's own last
collections, so the process that goes on collects them as before.
"""

from __future__ import annotations

import gc
import os

import pytest

_OUTER_HEAP_FROZEN = pytest.StashKey[bool]()
"""Whether the run was made inside another run's test, in a process whose heap is frozen."""
_seen_frozen = False
"""Whether a run inside a test found this process's heap frozen. It stays so for the next
run: :func:`gc.get_freeze_count` walks every frozen object (about 8 ms in a test process
of this project's suite), and a heap stays frozen until someone thaws it; this module
thaws only what a run of its own froze, and then forgets what it saw (:func:`_thaw`)."""


def freeze(config: pytest.Config) -> None:
    """Freeze every object tracked now; the first call for ``config`` decides for the run.

    The first call comes before pytest's own plugins add their clean-ups: those run last
    in, first out, so the unfreezing comes after the collections of the unraisable-exception
    report. ``PYTEST_CURRENT_TEST`` is read now: the run's own tests unset it.
    """
    global _seen_frozen
    outer_heap_frozen = config.stash.get(_OUTER_HEAP_FROZEN, None)
    if outer_heap_frozen is None:
        inside_a_test = "PYTEST_CURRENT_TEST" in os.environ
        outer_heap_frozen = inside_a_test and (_seen_frozen or gc.get_freeze_count() > 0)
        _seen_frozen = outer_heap_frozen
        config.stash[_OUTER_HEAP_FROZEN] = outer_heap_frozen
        if inside_a_test and not outer_heap_frozen:
            config.add_cleanup(_thaw)
    if not outer_heap_frozen:
        gc.freeze()


def _thaw() -> None:
    """Unfreeze what this run froze; what a run nested in it saw frozen is no longer."""
    global _seen_frozen
    gc.unfreeze()
    _seen_frozen = False


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
