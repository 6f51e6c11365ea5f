"""Results held by reference: what a check needs to change a value the learner's code holds.

A check that proves "a caller changing a result cannot change the cache" changes the very
object the learner's code returned. In one process that is the object itself; in worker mode
results cross as copies, so :func:`by_reference` asks for the object as a handle, whose
methods (``update``, ``append``, ``copy``...) run where the learner's code sees them. The
same check code proves the same thing in both modes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def by_reference(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` (a method or function of the learner's code), its result not copied.

    In one process it is ``function`` itself. In worker mode the result comes back as a
    handle of the object in the worker, even a plain dict or list: call its methods to
    change it, and :func:`value_now` to read it.
    """
    handles = sys.modules.get("pytest_tutorial.isolation.handles")
    if handles is not None and isinstance(function, handles.Handle | handles._Method):
        return function.by_reference  # type: ignore[no-any-return]
    return function


def value_now(held: object) -> Any:
    """What a result held by reference holds now: a copy (``held.copy()``) where it has one."""
    copy = getattr(held, "copy", None)
    return copy() if callable(copy) else held
