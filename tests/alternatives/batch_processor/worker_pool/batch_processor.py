"""An async batch processor built on a pool of worker tasks per chunk.

Instead of one coroutine per item behind a semaphore, each chunk gets a fixed pool of
``min(max_concurrency, len(chunk))`` workers in an ``asyncio.TaskGroup``; each worker pulls
the next item's position from an ``asyncio.Queue`` until the chunk is drained, and writes
its result into a list slot reserved for that position, so results keep input order. Every
handler call is bounded by ``asyncio.wait_for``; transient errors are retried with full
jitter; each batch logs one metrics record.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple, TypeAlias

__all__ = ["TRANSIENT_ERRORS", "BatchProcessor", "BatchResult", "ItemResult", "JSONValue"]

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
Handler: TypeAlias = Callable[[JSONValue], Awaitable[JSONValue]]
Sleep: TypeAlias = Callable[[float], Awaitable[object]]

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (ConnectionError, TimeoutError)
"""Exception types retried by default: a later attempt may succeed."""

logger = logging.getLogger("batch_processor")


class ItemResult:
    """The outcome of one input item: its position, value or error, and attempts made."""

    __slots__ = ("attempts", "error", "index", "ok", "value")

    def __init__(
        self,
        index: int,
        ok: bool,
        value: JSONValue = None,
        error: str | None = None,
        attempts: int = 1,
    ) -> None:
        """Record the outcome of the item at ``index`` after ``attempts`` handler calls."""
        self.index = index
        self.ok = ok
        self.value = value
        self.error = error
        self.attempts = attempts

    def __repr__(self) -> str:
        """Show the fields, as a dataclass would, for logs and test failures."""
        return (
            f"ItemResult(index={self.index!r}, ok={self.ok!r}, value={self.value!r}, "
            f"error={self.error!r}, attempts={self.attempts!r})"
        )

    def to_dict(self) -> dict[str, JSONValue]:
        """Return this outcome as a dict of plain JSON values, one key per field."""
        return {
            "index": self.index,
            "ok": self.ok,
            "value": self.value,
            "error": self.error,
            "attempts": self.attempts,
        }


class BatchResult(NamedTuple):
    """The outcome of one batch: every item's result in input order, and its metrics."""

    results: tuple[ItemResult, ...]
    metrics: dict[str, int | float]

    @property
    def failed(self) -> list[ItemResult]:
        """Return the results whose item failed for good, in input order."""
        return [result for result in self.results if not result.ok]

    def to_dict(self) -> dict[str, JSONValue]:
        """Return the results and the metrics of this batch as plain JSON values."""
        return {
            "results": [result.to_dict() for result in self.results],
            "metrics": dict(self.metrics),
        }


def _require_count(name: str, value: object) -> int:
    """Return ``value`` when it is an int of at least 1, else raise ValueError naming it."""
    if type(value) is not int or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return value


class BatchProcessor:
    """Applies an async handler to every item of a batch through a pool of worker tasks."""

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
        """Check every setting and keep it; raise ValueError for one out of range.

        A ``handler`` that is not callable raises TypeError.
        """
        if not callable(handler):
            raise TypeError(f"handler must be an async callable, got {handler!r}")
        self.chunk_size = _require_count("chunk_size", chunk_size)
        self.max_concurrency = _require_count("max_concurrency", max_concurrency)
        self.max_attempts = _require_count("max_attempts", max_attempts)
        if base_delay < 0 or max_delay < base_delay:
            raise ValueError(f"need 0 <= base_delay <= max_delay, got {base_delay}, {max_delay}")
        if not item_timeout > 0:
            raise ValueError(f"item_timeout must be positive, got {item_timeout!r}")
        self.handler = handler
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.item_timeout = item_timeout
        self.transient = transient
        self.sleep = sleep
        self.random = random
        self.batches = 0

    async def process(self, items: Sequence[JSONValue]) -> BatchResult:
        """Run the handler over ``items`` chunk by chunk and return their results in order.

        A chunk's items are shared out among at most ``max_concurrency`` workers; the next
        chunk starts when the last worker of this one is done. Raises TypeError when
        ``items`` is not a list or tuple. Cancelling the call cancels the workers.
        """
        if not isinstance(items, (list, tuple)):
            raise TypeError(f"items must be a list or tuple, got {type(items).__name__}")
        self.batches += 1
        batch_id = self.batches
        began = time.monotonic()
        slots: list[ItemResult | None] = [None] * len(items)
        chunks = 0
        try:
            for start in range(0, len(items), self.chunk_size):
                chunks += 1
                positions = range(start, min(start + self.chunk_size, len(items)))
                await self._run_chunk(items, positions, slots)
        except asyncio.CancelledError:
            done = sum(result is not None for result in slots)
            logger.warning(
                "batch %d cancelled with %d of %d items done", batch_id, done, len(slots)
            )
            raise
        results = tuple(result for result in slots if result is not None)
        failed = sum(1 for result in results if not result.ok)
        metrics: dict[str, int | float] = {
            "batch_id": batch_id,
            "items": len(items),
            "chunks": chunks,
            "succeeded": len(results) - failed,
            "failed": failed,
            "retries": sum(result.attempts for result in results) - len(results),
            "duration_ms": (time.monotonic() - began) * 1000.0,
        }
        logger.info("batch finished: %s", metrics, extra={"batch_metrics": metrics})
        return BatchResult(results, metrics)

    def backoff_delay(self, attempt: int) -> float:
        """Return the jittered seconds to wait after failed attempt number ``attempt``."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling * self.random()

    async def _run_chunk(
        self, items: Sequence[JSONValue], positions: range, slots: list[ItemResult | None]
    ) -> None:
        """Share ``positions`` out among a pool of workers; each fills its items' slots."""
        queue: asyncio.Queue[int] = asyncio.Queue()
        for position in positions:
            queue.put_nowait(position)

        async def worker() -> None:
            while not queue.empty():
                position = queue.get_nowait()
                slots[position] = await self._attempt_all(position, items[position])

        async with asyncio.TaskGroup() as group:
            for _ in range(min(self.max_concurrency, len(positions))):
                group.create_task(worker())

    async def _attempt_all(self, position: int, item: JSONValue) -> ItemResult:
        """Call the handler on ``item`` until it succeeds or may not be retried any more."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                value = await self._bounded_call(item)
            except self.transient as error:
                if attempt == self.max_attempts:
                    return _failure(position, error, attempt)
                await self.sleep(self.backoff_delay(attempt))
            except Exception as error:
                return _failure(position, error, attempt)
            else:
                return ItemResult(position, True, value, None, attempt)
        raise AssertionError("unreachable: max_attempts is at least 1")

    async def _bounded_call(self, item: JSONValue) -> JSONValue:
        """Call the handler on ``item``; a TimeoutError after ``item_timeout`` says so."""
        try:
            return await asyncio.wait_for(self.handler(item), self.item_timeout)
        except TimeoutError as error:
            if str(error):
                raise
            raise TimeoutError(f"the handler took over {self.item_timeout} s") from None


def _failure(position: int, error: Exception, attempts: int) -> ItemResult:
    """Return the failed result of the item at ``position`` after ``attempts`` calls."""
    return ItemResult(position, False, None, f"{type(error).__name__}: {error}", attempts)
