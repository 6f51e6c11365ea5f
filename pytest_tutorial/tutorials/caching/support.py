"""Constants and helpers shared by the caching tutorial's checks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pytest_tutorial import SteppedClock

NAMESPACE = "checks"
TTL_SECONDS = 120
LOCAL_TTL_SECONDS = 5.0
# The settings the tutorial's "Initial Configuration" promises when none is given.
DEFAULT_NAMESPACE = "cache"
DEFAULT_TTL_SECONDS = 300
DEFAULT_LOCAL_MAX_ENTRIES = 256
DEFAULT_LOCAL_TTL_SECONDS = 5.0


class BackendUnavailable(Exception):
    """What a failing ``compute`` raises in the checks: no learner code raises it by accident
    (a stub's NotImplementedError stays the stub's own error)."""


class Computation:
    """A compute callable that counts its calls and returns a fresh plain value each time."""

    def __init__(self, value: Any = None) -> None:
        self.calls = 0
        self.value = value

    def __call__(self) -> Any:
        self.calls += 1
        return self.value if self.value is not None else {"computed": self.calls}


class ManualClock(SteppedClock):
    """A clock for the learner's local TTL that moves only when the check says so.

    Real time never leaks in, so "just before" and "just after" an expiry are exact.
    """

    def __init__(self) -> None:
        super().__init__()
        self._now = 1000.0

    @property
    def now(self) -> float:
        """The time the learner's code reads."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self._now += seconds
        self.changed()


class Caller(threading.Thread):
    """A daemon thread that runs one call and keeps its result or the exception it raised.

    Checks start learner code in threads through this, so an exception becomes a clear
    failure message, naming the call, instead of an unhandled-thread-exception warning.
    """

    def __init__(
        self, call: Callable[[], Any], what: str, gate: threading.Barrier | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.what = what
        self.gate = gate
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            if self.gate is not None:
                self.gate.wait()
            self.result = self.call()
        except BaseException as error:
            self.error = error

    def outcome(self) -> Any:
        """The call's result; fails the check if it raised or is still running."""
        __tracebackhide__ = True
        if self.is_alive():
            raise AssertionError(f"{self.what}, made from a thread, is still running")
        if self.error is not None:
            raise AssertionError(
                f"{self.what}, made from a thread, raised {type(self.error).__name__}: {self.error}"
            )
        return self.result
