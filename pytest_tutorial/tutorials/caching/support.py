"""Constants and helpers shared by the caching tutorial's checks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

NAMESPACE = "checks"
TTL_SECONDS = 120
LOCAL_TTL_SECONDS = 5.0


class Computation:
    """A compute callable that counts its calls and returns a fresh plain value each time."""

    def __init__(self, value: Any = None) -> None:
        self.calls = 0
        self.value = value

    def __call__(self) -> Any:
        self.calls += 1
        return self.value if self.value is not None else {"computed": self.calls}


class Caller(threading.Thread):
    """A daemon thread that runs one call and keeps its result or the exception it raised.

    Checks start learner code in threads through this, so an exception becomes a clear
    failure message instead of an unhandled-thread-exception warning.
    """

    def __init__(self, call: Callable[[], Any], gate: threading.Barrier | None = None) -> None:
        super().__init__(daemon=True)
        self.call = call
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
            raise AssertionError("a call made from a thread is still running")
        if self.error is not None:
            raise AssertionError(
                f"a call made from a thread raised {type(self.error).__name__}: {self.error}"
            )
        return self.result
