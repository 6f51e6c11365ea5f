"""The worker's side of the checks' fixtures: log records out, fake clocks and memory in.

:class:`ForwardingHandler` sends the learner's log records (with their plain ``extra``
fields) to the trusted side, where ``caplog`` sees them, unless the checks disabled logging
(the worker follows ``logging.disable`` there); :class:`WorkerFixtures` keeps the
worker's copies of the checks' fake clocks (:mod:`.clock_bridge`) and traces the learner's
allocations on request (:func:`pytest_tutorial.memory.allocations_in`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from pytest_tutorial.isolation import protocol
from pytest_tutorial.isolation.codec import Codec, CodecError
from pytest_tutorial.isolation.learner_logs import LOG_RATE


class _Sender(Protocol):
    def send_log(self, record: logging.LogRecord) -> None: ...


def log_message(record: logging.LogRecord) -> dict[str, Any]:
    """One log record as a message for the trusted side, with its plain extras."""
    return {
        "op": protocol.LOG,
        "name": record.name,
        "level": record.levelno,
        "message": record.getMessage()[:4000],
        "exception": (
            logging.Formatter().formatException(record.exc_info)[-4000:] if record.exc_info else ""
        ),
        "extra": _plain_extras(record),
    }


_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _plain_extras(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra={...}`` fields of a record that are plain values (others are dropped)."""
    extras = {}
    for name, value in vars(record).items():
        if name not in _RECORD_FIELDS and not name.startswith("_"):
            with contextlib.suppress(CodecError, RecursionError):
                extras[name] = Codec().encode(value)
    return extras


class ForwardingHandler(logging.Handler):
    """Sends the learner's log records to the trusted side, at most :data:`LOG_RATE` a second."""

    def __init__(self, server: _Sender) -> None:
        super().__init__(logging.NOTSET)
        self.server = server
        self.paused = threading.Event()
        self._window = 0.0
        self._count = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Forward the learner's log record to the checks, unless paused."""
        if self.paused.is_set():
            return
        now = time.monotonic()
        if now - self._window >= 1.0:
            self._window, self._count = now, 0
        self._count += 1
        if self._count <= LOG_RATE:
            self.server.send_log(record)


class WorkerFixtures:
    """The worker's copies of the checks' fake clocks, and the learner's memory traced."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clocks: dict[int, Any] = {}
        self._tracing: Any = None

    def follow_logging_disable(self, message: dict[str, Any]) -> None:
        """Disable logging as the checks did (:data:`protocol.LOGGING_DISABLE`), if they did.

        A check that silences logging while it makes hundreds of calls silences the
        learner's code too in one process; so it does here, and no record is made or sent.
        """
        level = message.get(protocol.LOGGING_DISABLE)
        if type(level) is int and level != logging.root.manager.disable:
            logging.disable(level)

    def clock(self, number: object) -> Any:
        """The worker's copy of the check's fake clock ``number`` (made on first use)."""
        from pytest_tutorial.isolation.clock_bridge import WorkerClock

        if not isinstance(number, int):
            raise CodecError("a clock needs an id")
        with self._lock:
            return self._clocks.setdefault(number, WorkerClock())

    def clock_reading(self, payload: dict[str, Any]) -> Any:
        """``monotonic`` or ``time`` of the check's fake clock, read here."""
        from pytest_tutorial.isolation.clock_bridge import READINGS

        clock = self.clock(payload.get("id"))
        clock.update(payload)
        reading = payload.get("reading")
        if reading not in READINGS:
            raise CodecError(f"a clock has no reading {reading!r}")
        return getattr(clock, str(reading))

    def memory(self, message: dict[str, Any]) -> Any:
        """Trace the learner's allocations (:func:`pytest_tutorial.memory.allocations_in`)."""
        from pytest_tutorial.memory import Tracing

        action = message.get("action")
        if action == "start":
            self._tracing = Tracing(Path(str(message.get("folder"))))
            return None
        tracing, self._tracing = self._tracing, (self._tracing if action == "grown" else None)
        if tracing is None:
            raise CodecError("no memory tracing was started")
        if action == "grown":
            return tracing.grown()
        tracing.stop()
        return None
