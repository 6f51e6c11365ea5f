"""The checks run from the start of a roomy chunk of CPython's frame stack.

CPython 3.11 and 3.12 keep each thread's Python frames in chunks of 16 KiB and free a
chunk as soon as the stack shrinks back out of it (CPython issue gh-142183; the 3.13 and
3.14 releases made since March 2026 keep one chunk). Code that calls back and forth across
a chunk's end then maps, touches and unmaps memory on every such call. Where that end
falls depends on how deep pytest, the plugins, the checks and the learner's code happen to
be, so any check of any learner's code can land on it: in object_store's round-trip
property, boto3's and moto's calls crossed one about 23,500 times, a fifth of the check's
CPU time.

:func:`in_room` calls a function from a frame of some 16,000 unused locals (128 KiB):
too large for the current chunk, it gets a chunk of its own of 256 KiB, and what the call
does below it fits in the rest (some 600 frames), which stays mapped until the call
returns. :class:`RoomyTestLoop` runs pytest's test loop that way, so every check, its
fixtures and the learner's code called from them run in that room; the plugin activates
a tutorial there too (its imports of moto, boto3 and hypothesis crossed a chunk's end some
7,000 times).
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Callable
from typing import Any, TypeVar

import _pytest.main
import pytest

ROOM_LOCALS = 16_000
"""Unused locals of the room's frame: 8 bytes each, and CPython sizes a new chunk to the
frame plus 1,000 slots, doubling from 16 KiB: 256 KiB."""

T = TypeVar("T")


def _room(call: Callable[[], Any]) -> Any:
    __tracebackhide__ = True  # pytest leaves this frame out of tracebacks
    return call()


@functools.cache
def _roomy_function() -> Callable[[Callable[[], Any]], Any]:
    """:func:`_room` with :data:`ROOM_LOCALS` more locals, or as it is where that fails.

    Built on first use (5 ms), so that runs without a tutorial never pay for it.
    """
    if sys.implementation.name != "cpython":
        return _room
    code = _room.__code__
    extra = tuple(f"_{index}" for index in range(ROOM_LOCALS))
    try:
        roomy = code.replace(
            co_varnames=code.co_varnames + extra, co_nlocals=code.co_nlocals + len(extra)
        )
    except (TypeError, ValueError):
        return _room
    return types.FunctionType(roomy, _room.__globals__, _room.__name__)


def in_room(call: Callable[[], T]) -> T:
    """``call()``, from the start of a data-stack chunk of its own (see the module)."""
    result: T = _roomy_function()(call)
    return result


class RoomyTestLoop:
    """Runs pytest's own test loop in :func:`in_room`, when it is the loop that runs.

    Another plugin's loop (pytest-xdist's controller or worker, for one) is left to run as
    it would: this one steps aside and the hook goes on to the next implementation.
    """

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> object | None:
        """The loop of pytest over the checks, in the room; None where another loop runs."""
        hook = session.config.pluginmanager.hook.pytest_runtestloop
        others = [
            impl
            for impl in hook.get_hookimpls()
            if not (impl.hookwrapper or impl.wrapper)
            and impl.plugin is not self
            and impl.plugin is not _pytest.main
        ]
        if others:
            return None
        return in_room(lambda: _pytest.main.pytest_runtestloop(session))
