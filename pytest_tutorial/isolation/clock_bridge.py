"""A check's fake clock, read in the worker without a round trip per reading.

A check hands the learner's code ``fake_clock.monotonic`` (or ``.time``), or a clock of its
own (a :class:`~pytest_tutorial.stepped_clock.SteppedClock`), as its clock. Sent as a
callback, every reading would cost a round trip to the trusted side (a tenth of a
millisecond, far more than the cached read it times). Instead the worker keeps a copy of
the clock's state (the offset the check advanced it by, and the readings time was frozen
at) and reads the same system clocks the trusted side does: ``CLOCK_MONOTONIC`` and the
wall clock are the machine's, the same in both processes, so both sides read the same time.
A stepped clock crosses as a clock frozen at its reading, moved by nothing: the worker
returns that reading exactly (to the bit: a rate limiter's millisecond counts).
Whenever the check advances or freezes the clock, the trusted side sends the new state and
waits for the worker to take it: when ``advance()`` returns, the learner's clock has moved.

The learner's code can change its own copy, as it could ignore the clock altogether; what
the checks believe (Redis TTLs, counts) lives on the trusted side.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from typing import TYPE_CHECKING, Any, TypeAlias

from pytest_tutorial.isolation import protocol
from pytest_tutorial.isolation.codec import tagged
from pytest_tutorial.stepped_clock import SteppedClock

if TYPE_CHECKING:
    from pytest_tutorial.fixtures.redis import FakeClock
    from pytest_tutorial.isolation.remote import Worker

    Followed: TypeAlias = FakeClock | SteppedClock

READINGS = ("monotonic", "time")


class ClockBridge:
    """Sends one worker the state of every fake clock a check passed to it."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._ids: dict[int, tuple[Followed, int, int]] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def adapt(self, value: object) -> dict[str, object] | None:
        """The ``$clock`` reference of a fake or stepped clock's reading, else None."""
        from pytest_tutorial.fixtures.redis import FakeClock

        clock: object
        name: object
        if isinstance(value, SteppedClock):
            clock, name = value, "monotonic"
        else:
            clock, name = getattr(value, "__self__", None), getattr(value, "__name__", None)
        if not isinstance(clock, FakeClock | SteppedClock) or name not in READINGS:
            return None
        generation = self.worker.generation
        with self._lock:
            known = self._ids.get(id(clock))
            if known is None or known[0] is not clock or known[2] != generation:
                known = (clock, next(self._numbers), generation)
                self._ids[id(clock)] = known
                self._follow(clock, known[1], generation)
        return tagged("clock", {"id": known[1], "reading": name, **state(clock)})

    def _follow(self, clock: Followed, number: int, generation: int) -> None:
        clock.on_change.append(lambda: self._push(clock, number, generation))

    def _push(self, clock: Followed, number: int, generation: int) -> None:
        from pytest_tutorial.isolation.remote import WorkerGone

        if self.worker.generation != generation or self.worker.gone is not None:
            return
        with contextlib.suppress(WorkerGone):
            self.worker.request(protocol.CLOCK, clock=number, **state(clock))


def state(clock: Followed) -> dict[str, Any]:
    """What the worker needs to read ``clock`` as the trusted side does."""
    if isinstance(clock, SteppedClock):
        now = clock.now
        return {"offset": 0.0, "frozen": [now, now]}
    frozen = clock.frozen_at
    return {"offset": clock.offset, "frozen": list(frozen) if frozen else None}


class WorkerClock:
    """The worker's copy of one fake clock (see the module docstring)."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.frozen: tuple[float, float] | None = None

    def update(self, payload: dict[str, Any]) -> None:
        """Take the state the trusted side sent."""
        offset, frozen = payload.get("offset"), payload.get("frozen")
        self.offset = float(offset) if isinstance(offset, int | float) else 0.0
        if isinstance(frozen, list) and len(frozen) == 2:
            self.frozen = (float(frozen[0]), float(frozen[1]))
        else:
            self.frozen = None

    def time(self) -> float:
        """Wall-clock seconds, shifted as the check's clock is."""
        return (time.time() if self.frozen is None else self.frozen[0]) + self.offset

    def monotonic(self) -> float:
        """Monotonic seconds, shifted as the check's clock is."""
        return (time.monotonic() if self.frozen is None else self.frozen[1]) + self.offset
