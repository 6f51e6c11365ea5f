"""Log records of the learner's code, as the trusted side takes them from a worker.

The worker forwards every record its learner's code logs (:mod:`.worker_fixtures`); this
side takes at most :data:`LOG_RATE` a second and :data:`MAX_LOG_RECORDS` in all
(:class:`LogBudget`: the worker limits itself too, but it is the learner's process) and
re-emits each one where pytest's log capture sees it (:func:`relog`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from pytest_tutorial.isolation.codec import Codec, CodecError

LOG_RATE = 2000
"""Learner log records taken per second, on either side of the channel."""
MAX_LOG_RECORDS = 20_000
"""Learner log records taken from one worker in all; the rest are dropped (with a note)."""


class LogBudget:
    """How many of a worker's log records this side takes: a rate, and a total.

    The first record dropped in a second, and the first past the total, leave a warning
    that says so, so a check that misses a record knows why.
    """

    def __init__(self) -> None:
        self.taken = 0
        self._window = 0.0
        self._in_window = 0

    def take(self) -> bool:
        """Whether to take the next record (called by the one reader thread)."""
        now = time.monotonic()
        if now - self._window >= 1.0:
            self._window, self._in_window = now, 0
        self._in_window += 1
        if self._in_window <= LOG_RATE and self.taken < MAX_LOG_RECORDS:
            self.taken += 1
            return True
        if self._in_window == LOG_RATE + 1 or self.taken == MAX_LOG_RECORDS:
            if self.taken == MAX_LOG_RECORDS:
                self.taken += 1  # warn once about the total
            logging.getLogger(__name__).warning(
                "log records of the learner's code dropped: more than %d a second or %d in all",
                LOG_RATE,
                MAX_LOG_RECORDS,
            )
        return False


def relog(message: dict[str, Any]) -> None:
    """Re-emit a learner's log record here, where pytest's log capture sees it."""
    name, level = message.get("name"), message.get("level")
    if not isinstance(name, str) or not isinstance(level, int):
        return
    if level <= logging.root.manager.disable:  # sent before the worker learnt of it
        return
    record = logging.makeLogRecord(
        {
            "name": name,
            "levelno": level,
            "levelname": logging.getLevelName(level),
            "msg": str(message.get("message", ""))[:4000],
            "exc_text": str(message.get("exception", ""))[:4000] or None,
        }
    )
    extras = message.get("extra")
    if isinstance(extras, dict):
        for key, value in list(extras.items())[:20]:
            if isinstance(key, str) and key not in vars(record) and not key.startswith("_"):
                with contextlib.suppress(CodecError):
                    setattr(record, key, Codec().decode(value))
    logging.getLogger(name).handle(record)
