"""Stop a check that runs past its time limit, so one hang cannot stall the run.

The limit is enforced with ``SIGALRM``: when it fires, :class:`CheckTimeout` is raised in
the main thread, wherever the check (or the learner's code it called) is. It is a kind of
``pytest.fail.Exception``: a ``BaseException`` (so a learner's ``except Exception`` cannot
swallow it) that pytest itself treats as a test outcome, so a timeout during setup leaves
pytest's own bookkeeping intact for the checks that follow. Where there is no
``SIGALRM`` (Windows) or the check does not run in the main thread, checks run unlimited;
``pytest-tutorial grade`` adds a wall-clock limit around the whole process for that case.

Once the limit has passed, the alarm keeps firing every :data:`REPEAT_S` until the block is
left, each time raising :class:`StillRunning`: hypothesis catches ``pytest.fail.Exception``
as a failing example and goes on shrinking (minutes, when every example runs into the same
slow path), and a learner's ``except BaseException`` may swallow one alarm, but not every
one. ``StillRunning`` is no failure to hypothesis, so it leaves at once; the block's exit
turns it back into the :class:`CheckTimeout` pytest reports. Any other error that ends the
block once the limit has fired becomes that :class:`CheckTimeout` too: an alarm can land
inside a library's own bookkeeping (hypothesis replaying an example), which then reports
an error of its own that says nothing of the time limit.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from _pytest.outcomes import Failed as _Failed
else:
    _Failed = pytest.fail.Exception


class CheckTimeout(_Failed):
    """A check ran past its time limit."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the check did not finish within its {seconds:g} s time limit", pytrace=False
        )
        self.seconds = seconds


def timeout_in(error: BaseException) -> CheckTimeout | None:
    """The :class:`CheckTimeout` that ended a check: ``error`` itself or one inside a group.

    hypothesis reports an example it could not replay the same way as a group of the
    failures it saw (``FlakyFailure``, which holds a ``BaseException`` as the explicit cause
    of a wrapper); when the limit is one of them, the check timed out.
    """
    if isinstance(error, CheckTimeout):
        return error
    inner: list[BaseException] = []
    if isinstance(error, BaseExceptionGroup):
        inner.extend(error.exceptions)
    if error.__cause__ is not None:
        inner.append(error.__cause__)
    for each in inner:
        found = timeout_in(each)
        if found is not None:
            return found
    return None


class StillRunning(BaseException):
    """The limit passed a while ago and the block is still running: leave it now."""


REPEAT_S = 0.1
"""Interval of the alarms after the first, until the limited block is left."""


def can_enforce() -> bool:
    """Whether :func:`time_limit` can stop code in this thread on this platform."""
    return hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CheckTimeout` inside the block once ``seconds`` have passed.

    Nested limits are not supported: the harness sets one per test phase.
    """
    if not seconds or not can_enforce():
        yield
        return

    left = fired = False

    def expire(signum: int, frame: object) -> None:
        nonlocal fired
        if left:
            return
        if fired:
            raise StillRunning
        fired = True
        raise CheckTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_S)
    try:
        yield
    except (CheckTimeout, KeyboardInterrupt):  # the limit's own, or the user stopping pytest
        raise
    except BaseException as error:
        if not fired:
            raise
        # Whatever ends the block once the limit fired is the limit's doing: StillRunning,
        # or what code made of an alarm it caught (hypothesis, interrupted while it replays
        # an example, reports FlakyStrategyDefinition).
        cause = None if isinstance(error, StillRunning) else error
        raise CheckTimeout(seconds) from cause
    finally:
        left = True
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
