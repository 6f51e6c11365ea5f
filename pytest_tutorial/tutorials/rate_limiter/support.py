"""Constants and helpers shared by the rate_limiter tutorial's checks."""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from typing import Any

from pytest_tutorial import FakeClock, InstrumentedRedis, SteppedClock, as_plain_json

NAMESPACE = "checks"
LIMIT = 5
WINDOW_SECONDS = 10.0
EPOCH = 1_800_000_000.0
"""Where the limiter's clock starts: a multiple of every window the checks use, so a
fixed-window implementation's window edges fall where the checks look for them."""
DECISION_KEYS = {"allowed", "limit", "remaining", "retry_after"}


class LimiterClock(SteppedClock):
    """The time the learner's limiter (and so its Lua script) sees: ``EPOCH`` plus what the
    check advanced ``fake_clock`` by. Real time never leaks in, so decisions are exact;
    Redis TTLs move by the same amounts because the same ``fake_clock`` shifts the server."""

    def __init__(self, fake_clock: FakeClock) -> None:
        super().__init__()
        fake_clock.freeze()  # fakeredis's TTLs must not run on while the check runs
        self._fake_clock = fake_clock
        self._elapsed_ms = 0

    @property
    def now(self) -> float:
        """``EPOCH`` plus the whole milliseconds the check advanced."""
        return EPOCH + self._elapsed_ms / 1000

    def advance(self, seconds: float) -> None:
        """Move the limiter's and the Redis server's clocks forward by ``seconds``."""
        step_ms = round(seconds * 1000)
        self._elapsed_ms += step_ms
        self._fake_clock.advance(step_ms / 1000)
        self.changed()

    def advance_to(self, seconds_after_epoch: float) -> None:
        """Move both clocks to ``EPOCH + seconds_after_epoch`` (never backwards)."""
        self.advance(max(0.0, seconds_after_epoch - self._elapsed_ms / 1000))

    @property
    def elapsed(self) -> float:
        """Seconds since ``EPOCH``."""
        return self._elapsed_ms / 1000


def decision_of(value: object, what: str) -> dict[str, Any]:
    """The plain decision dict ``value`` holds; fail the check on any other shape."""
    __tracebackhide__ = True
    plain = as_plain_json(value, what=what)
    if not isinstance(plain, dict) or set(plain) != DECISION_KEYS:
        raise AssertionError(
            f"{what} returned {plain!r}; expected a dict with exactly the keys "
            f"{sorted(DECISION_KEYS)}"
        )
    kinds = {"allowed": (bool,), "limit": (int,), "remaining": (int,), "retry_after": (int, float)}
    for name, allowed_types in kinds.items():
        field = plain[name]
        wrong_bool = name != "allowed" and isinstance(field, bool)
        if wrong_bool or not isinstance(field, allowed_types):
            kind = " or ".join(t.__name__ for t in allowed_types)
            raise AssertionError(f"{what}['{name}'] is {field!r}; expected a {kind}")
    return plain


MAX_SLEEPS = 10


class RecordingSleep:
    """A ``sleep`` for the limiter that records each delay and moves ``clock`` by it.

    ``meanwhile`` runs after each sleep (another client taking the freed allowance); more
    than ``MAX_SLEEPS`` sleeps in one check fail it instead of looping forever.
    """

    def __init__(
        self, clock: LimiterClock | None = None, meanwhile: Callable[[], object] | None = None
    ) -> None:
        self.delays: list[float] = []
        self._clock = clock
        self.meanwhile = meanwhile

    def __call__(self, seconds: float) -> None:
        __tracebackhide__ = True
        self.delays.append(float(seconds))
        if len(self.delays) > MAX_SLEEPS:
            raise AssertionError(f"hit(..., wait=...) slept {MAX_SLEEPS} times and goes on")
        if self._clock is not None:
            self._clock.advance(seconds)
        if self.meanwhile is not None:
            self.meanwhile()

    async def asleep(self, seconds: float) -> None:
        """The coroutine twin, for the async limiter (``meanwhile`` may be a coroutine
        function there)."""
        meanwhile, self.meanwhile = self.meanwhile, None
        try:
            self(seconds)
        finally:
            self.meanwhile = meanwhile
        if meanwhile is not None:
            result = meanwhile()
            if inspect.isawaitable(result):
                await result


SPLIT_COMMAND_S = 0.02
ATOMIC_COMMANDS = frozenset(
    {"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO", "MULTI", "EXEC", "DISCARD"}
)
"""Commands :class:`ContendedRedis` does not slow: each is one atomic step (or opens or
closes one), so no other caller can act between its read and its write."""


class ContendedRedis(InstrumentedRedis):
    """A fakeredis client that yields the CPU before every command.

    Threads that read a count, decide in Python and write it back then interleave every
    time (a race a lone ``EVALSHA`` or ``MULTI``/``EXEC`` cannot have)."""

    def before_command(self, name: str) -> None:
        """Wait before each command (in worker mode the served commands wait here).

        A command that can be one half of a read-then-write waits ``SPLIT_COMMAND_S``, longer
        than the callers' starts are spread (threads behind a barrier, then a worker's
        channel), so every caller reads before any writes. A command that is atomic on its
        own (a script, a transaction's ``EXEC``) only yields.
        """
        time.sleep(0.001 if name.upper() in ATOMIC_COMMANDS else SPLIT_COMMAND_S)

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.before_command(str(args[0]) if args else "")
        return super().execute_command(*args, **options)


class Caller(threading.Thread):
    """A daemon thread that runs one call behind a barrier and keeps its outcome."""

    def __init__(self, call: Callable[[], Any], gate: threading.Barrier) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.gate = gate
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.gate.wait()
            self.result = self.call()
        except BaseException as error:
            self.error = error

    def outcome(self, what: str) -> Any:
        """The call's result; fails the check if it raised or is still running."""
        __tracebackhide__ = True
        if self.is_alive():
            raise AssertionError(f"{what}, made from a thread, is still running")
        if self.error is not None:
            raise AssertionError(
                f"{what}, made from a thread, raised {type(self.error).__name__}: {self.error}"
            )
        return self.result


def run_together(calls: list[Callable[[], Any]], what: str, deadline: float = 20.0) -> list[Any]:
    """Start every call at once (a barrier) in its own thread; their results in order."""
    __tracebackhide__ = True
    gate = threading.Barrier(len(calls))
    callers = [Caller(call, gate) for call in calls]
    for caller in callers:
        caller.start()
    end = time.monotonic() + deadline
    for caller in callers:
        caller.join(max(0.0, end - time.monotonic()))
    return [caller.outcome(what) for caller in callers]
