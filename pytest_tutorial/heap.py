"""Keep the garbage collector off the objects a tutorial run made before its checks.

A tutorial run holds some 70 000 objects of pytest, its plugins, hypothesis and fakeredis
before the first check runs; every full collection walks all of them again: the ones
Python triggers while the plugins and the check modules are imported, and the one pytest
makes at the end of every run (to report exceptions raised in ``__del__``), about a tenth of
a second of a caching run's critical path. They live as long as the run, so the run moves
them to the permanent generation (:func:`gc.freeze`, as the warm servers do before they
fork) once the tutorial is named and again once the checks are collected. What the checks
and the learner's code allocate is collected as before.
"""

from __future__ import annotations

import gc

import pytest


def freeze() -> None:
    """Move every object tracked now to the permanent generation (never collected)."""
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """The check modules, their fixtures and the items stay until the run ends."""
    freeze()
