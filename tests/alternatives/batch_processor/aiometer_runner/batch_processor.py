"""An async batch processor that lets aiometer schedule each chunk.

``aiometer.run_all(jobs, max_at_once=max_concurrency)`` runs a chunk's jobs with at most
``max_concurrency`` in flight and returns their results in the order of the jobs, which
is input order. Each job retries its item itself (exponential backoff, full jitter, an
injected sleep) and bounds every handler call with ``asyncio.timeout``. A result keeps
the failing exception's type name and message apart and joins them only in ``to_dict``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import random as _random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import aiometer

__all__ = ["TRANSIENT_ERRORS", "BatchProcessor", "BatchResult", "ItemResult", "JSONValue"]

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
Handler: TypeAlias = Callable[[JSONValue], Awaitable[JSONValue]]
Sleep: TypeAlias = Callable[[float], Awaitable[object]]

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (ConnectionError, TimeoutError)
"""The exception types retried when the caller does not pass its own."""

logger = logging.getLogger("batch_processor")


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item; a failure keeps its exception's type name and message."""

    index: int
    value: JSONValue = None
    error_type: str | None = None
    error_message: str = ""
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """Return True when the item succeeded, that is when no error type was recorded."""
        return self.error_type is None

    @property
    def error(self) -> str | None:
        """Return the error as ``"Type: message"``, or None when the item succeeded."""
        if self.error_type is None:
            return None
        return f"{self.error_type}: {self.error_message}"

    def to_dict(self) -> dict[str, JSONValue]:
        """Return index, ok, value, error and attempts of this outcome as plain JSON."""
        return {
            "index": self.index,
            "ok": self.ok,
            "value": self.value,
            "error": self.error,
            "attempts": self.attempts,
        }


@dataclass(frozen=True)
class BatchResult:
    """What one call of ``process`` returns: the results in input order and the metrics."""

    results: tuple[ItemResult, ...]
    metrics: dict[str, int | float]

    @property
    def failed(self) -> list[ItemResult]:
        """Return the results of the items that did not succeed, in input order."""
        return [result for result in self.results if not result.ok]

    def to_dict(self) -> dict[str, JSONValue]:
        """Return the results and the metrics of this batch as plain JSON values."""
        return {
            "results": [result.to_dict() for result in self.results],
            "metrics": dict(self.metrics),
        }


def _positive_int(name: str, value: int) -> int:
    """Return ``value`` if it is an int of at least 1; otherwise raise ValueError about it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer of at least 1, got {value!r}")
    return value


class BatchProcessor:
    """Runs an async handler on every item, chunk by chunk, scheduled by aiometer."""

    def __init__(
        self,
        handler: Handler,
        *,
        chunk_size: int = 100,
        max_concurrency: int = 10,
        max_attempts: int = 3,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        item_timeout: float = 10.0,
        transient: tuple[type[Exception], ...] = TRANSIENT_ERRORS,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        """Keep the handler and settings; raise ValueError when a setting is out of range.

        A ``handler`` that is not callable raises TypeError.
        """
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {handler!r}")
        self._chunk_size = _positive_int("chunk_size", chunk_size)
        self._max_concurrency = _positive_int("max_concurrency", max_concurrency)
        self._max_attempts = _positive_int("max_attempts", max_attempts)
        if not (0 <= base_delay <= max_delay and math.isfinite(max_delay)):
            raise ValueError(f"need 0 <= base_delay <= max_delay, got {base_delay}, {max_delay}")
        if not (item_timeout > 0 and math.isfinite(item_timeout)):
            raise ValueError(f"item_timeout must be a finite number > 0, got {item_timeout!r}")
        self._handler = handler
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._item_timeout = item_timeout
        self._transient = transient
        self._sleep = sleep
        self._random = random
        self._last_batch_id = 0

    async def process(self, items: Sequence[JSONValue]) -> BatchResult:
        """Return the results of running the handler on ``items``, in the order given.

        Chunks run one after another; aiometer keeps ``max_concurrency`` jobs of a chunk in
        flight. Raises TypeError when ``items`` is not a list or tuple.
        """
        if not isinstance(items, list | tuple):
            raise TypeError(f"items must be a list or tuple, not {type(items).__name__}")
        self._last_batch_id += 1
        started = time.perf_counter()
        results: list[ItemResult] = []
        chunks = 0
        for start in range(0, len(items), self._chunk_size):
            jobs = [
                functools.partial(self._item_outcome, index, items[index])
                for index in range(start, min(start + self._chunk_size, len(items)))
            ]
            try:
                results += await aiometer.run_all(jobs, max_at_once=self._max_concurrency)
            except asyncio.CancelledError:
                logger.warning("batch cancelled in chunk %d, %d results kept", chunks, len(results))
                raise
            chunks += 1
        failed = sum(not result.ok for result in results)
        metrics: dict[str, int | float] = {
            "batch_id": self._last_batch_id,
            "items": len(items),
            "chunks": chunks,
            "succeeded": len(results) - failed,
            "failed": failed,
            "retries": sum(result.attempts - 1 for result in results),
            "duration_ms": (time.perf_counter() - started) * 1000,
        }
        logger.info("batch metrics %s", metrics, extra={"batch_metrics": metrics})
        return BatchResult(tuple(results), metrics)

    def backoff_delay(self, attempt: int) -> float:
        """Return the seconds to sleep after failed attempt ``attempt``, with full jitter."""
        exponential = self._base_delay * 2.0 ** (attempt - 1)
        return self._random() * min(exponential, self._max_delay)

    async def _item_outcome(self, index: int, item: JSONValue) -> ItemResult:
        """Try ``item`` up to ``max_attempts`` times and describe how it ended."""
        attempt = 1
        while True:
            deadline = asyncio.timeout(self._item_timeout)
            try:
                async with deadline:
                    value = await self._handler(item)
                return ItemResult(index, value, attempts=attempt)
            except Exception as error:
                retry = isinstance(error, self._transient) and attempt < self._max_attempts
                if not retry:
                    message = str(error)
                    if deadline.expired():
                        message = f"cut off after {self._item_timeout} s"
                    return ItemResult(index, None, type(error).__name__, message, attempt)
            await self._sleep(self.backoff_delay(attempt))
            attempt += 1
