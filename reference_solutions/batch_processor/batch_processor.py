"""An async batch processor: chunked, bounded, retrying, and honest about partial failure.

``BatchProcessor.process(items)`` runs an async handler on every item and returns one
``ItemResult`` per item, in input order: the handler's value, or the error the item ended
with. Items run in chunks of ``chunk_size``, at most ``max_concurrency`` handler calls at a
time; transient errors are retried with exponential backoff and full jitter; every call is
cut off after ``item_timeout`` seconds; cancelling ``process`` cancels every call it
started. Each batch logs one line of metrics.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import random as _random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["TRANSIENT_ERRORS", "BatchProcessor", "BatchResult", "ItemResult", "JSONValue"]

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
Handler: TypeAlias = Callable[[JSONValue], Awaitable[JSONValue]]
Sleep: TypeAlias = Callable[[float], Awaitable[object]]
Metrics: TypeAlias = dict[str, int | float]

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (ConnectionError, TimeoutError)
"""Errors worth retrying by default: the next attempt may well succeed."""

logger = logging.getLogger("batch_processor")


@dataclass(frozen=True)
class ItemResult:
    """What happened to one input item: its value, or the error it ended with."""

    index: int
    ok: bool
    value: JSONValue = None
    error: str | None = None
    attempts: int = 1  # process() always sets it  # pragma: no mutate

    def to_dict(self) -> dict[str, JSONValue]:
        """This result as plain JSON values (what logs, APIs and the checks see)."""
        return {
            "index": self.index,
            "ok": self.ok,
            "value": self.value,
            "error": self.error,
            "attempts": self.attempts,
        }


@dataclass(frozen=True)
class BatchResult:
    """Every item's result, in input order, and the batch's metrics."""

    results: tuple[ItemResult, ...]
    metrics: Metrics

    @property
    def failed(self) -> list[ItemResult]:
        """The results of the items that failed for good, in input order."""
        return [result for result in self.results if not result.ok]

    def to_dict(self) -> dict[str, JSONValue]:
        """The results and metrics as plain JSON values."""
        return {
            "results": [result.to_dict() for result in self.results],
            "metrics": dict(self.metrics),
        }


def _check_count(name: str, value: object) -> None:
    """ValueError unless ``value`` is an int >= 1."""
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")


class BatchProcessor:
    """Runs an async handler over batches of items: chunked, bounded, retried, in order."""

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
        """Validate the settings (ValueError when one is out of range); nothing runs yet."""
        if not callable(handler):
            raise ValueError(f"handler must be an async callable, got {handler!r}")
        _check_count("chunk_size", chunk_size)
        _check_count("max_concurrency", max_concurrency)
        _check_count("max_attempts", max_attempts)
        if not 0 <= base_delay <= max_delay:
            raise ValueError(f"need 0 <= base_delay <= max_delay, got {base_delay}, {max_delay}")
        if not item_timeout > 0:
            raise ValueError(f"item_timeout must be a number of seconds > 0, got {item_timeout!r}")
        self._handler = handler
        self._chunk_size = chunk_size
        self._max_concurrency = max_concurrency
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._item_timeout = item_timeout
        self._transient = transient
        self._sleep = sleep
        self._random = random
        self._batch_ids = itertools.count(1)

    async def process(self, items: Sequence[JSONValue]) -> BatchResult:
        """Run the handler on every item; the results come back in input order.

        Chunks of ``chunk_size`` items run one after another, each with at most
        ``max_concurrency`` handler calls in flight. A failing item never fails the batch:
        its result holds the error. Cancelling this call cancels every handler call it
        started, waits for them to finish, and re-raises ``CancelledError``.
        TypeError when ``items`` is not a list or tuple.
        """
        if not isinstance(items, list | tuple):
            raise TypeError(f"items must be a list or tuple, got {type(items).__name__}")
        batch_id = next(self._batch_ids)
        started = time.perf_counter()
        slots = asyncio.Semaphore(self._max_concurrency)
        results: list[ItemResult] = []
        try:
            for start in range(0, len(items), self._chunk_size):
                chunk = items[start : start + self._chunk_size]
                calls = [self._run_item(start + n, item, slots) for n, item in enumerate(chunk)]
                results.extend(await asyncio.gather(*calls))
        except asyncio.CancelledError:
            logger.warning(
                "batch %d cancelled after %d of %d items", batch_id, len(results), len(items)
            )
            raise
        metrics = self._metrics(batch_id, len(items), results, time.perf_counter() - started)
        logger.info(
            "batch %(batch_id)d: %(items)d items in %(chunks)d chunks, %(succeeded)d "
            "succeeded, %(failed)d failed, %(retries)d retries, %(duration_ms).1f ms",
            metrics,
            extra={"batch_metrics": metrics},
        )
        return BatchResult(tuple(results), metrics)

    def backoff_delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        Full jitter: ``random() * min(max_delay, base_delay * 2 ** (attempt - 1))``.
        """
        cap = min(self._max_delay, self._base_delay * 2.0 ** (attempt - 1))
        return self._random() * cap

    async def _run_item(self, index: int, item: JSONValue, slots: asyncio.Semaphore) -> ItemResult:
        """Call the handler until it succeeds, fails for good, or runs out of attempts."""
        attempt = 0
        while True:
            attempt += 1
            try:
                value = await self._call_handler(item, slots)
            except self._transient as exc:
                if attempt >= self._max_attempts:
                    return self._failure(index, exc, attempt)
                await self._sleep(self.backoff_delay(attempt))
            except Exception as exc:
                return self._failure(index, exc, attempt)
            else:
                return ItemResult(index, ok=True, value=value, attempts=attempt)

    async def _call_handler(self, item: JSONValue, slots: asyncio.Semaphore) -> JSONValue:
        """One handler call, holding a concurrency slot, cut off after ``item_timeout``."""
        async with slots:
            async with asyncio.timeout(self._item_timeout):
                return await self._handler(item)

    def _failure(self, index: int, exc: Exception, attempts: int) -> ItemResult:
        message = str(exc)
        if not message and isinstance(exc, TimeoutError):
            message = f"no result within {self._item_timeout:g} s"
        logger.debug("item %d failed after %d attempt(s): %r", index, attempts, exc)
        return ItemResult(
            index, ok=False, error=f"{type(exc).__name__}: {message}", attempts=attempts
        )

    def _metrics(
        self, batch_id: int, items: int, results: list[ItemResult], elapsed_s: float
    ) -> Metrics:
        failed = sum(not result.ok for result in results)
        return {
            "batch_id": batch_id,
            "items": items,
            "chunks": math.ceil(items / self._chunk_size),
            "succeeded": len(results) - failed,
            "failed": failed,
            "retries": sum(result.attempts - 1 for result in results),
            "duration_ms": elapsed_s * 1000,
        }
