"""A check's clock that moves only when the check moves it.

Tutorials whose checks hand the learner's code a ``clock=`` function of their own (a local
TTL measured to the half second, a rate limiter's window to the millisecond) subclass
:class:`SteppedClock`. Called, it returns :attr:`~SteppedClock.now`. In one process that is
a plain call; in worker mode the worker keeps a copy of the reading, sent again whenever the
check moves the clock (:mod:`pytest_tutorial.isolation.clock_bridge`), so reading it costs
no round trip to the trusted side. A load test's requests read the clock each time, and a
round trip in every request would be timed with them.
"""

from __future__ import annotations

from collections.abc import Callable


class SteppedClock:
    """A clock of the check's own that stands still between the check's moves.

    A subclass keeps its time, returns it from :attr:`now`, and calls :meth:`changed` after
    every move, before the move returns to the check.
    """

    def __init__(self) -> None:
        self.on_change: list[Callable[[], None]] = []
        """Called after every move (a worker's copy of the reading follows)."""

    @property
    def now(self) -> float:
        """The reading the learner's code gets now."""
        raise NotImplementedError

    def __call__(self) -> float:
        """:attr:`now`: the clock itself is the ``clock=`` function the learner's code calls."""
        return self.now

    def changed(self) -> None:
        """Tell the clock's followers that :attr:`now` moved."""
        for listener in list(self.on_change):
            listener()
