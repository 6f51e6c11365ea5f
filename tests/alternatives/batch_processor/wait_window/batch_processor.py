"""An async batch processor that schedules its own sliding window with ``asyncio.wait``.

There is no semaphore: ``process`` starts one task per handler call while fewer than
``max_concurrency`` are running, waits for the first to finish (``asyncio.wait`` with
``FIRST_COMPLETED``), and starts the next. A transient failure does not hold a window
slot while it backs off: a separate task sleeps the jittered delay and then puts the item
back in the line of pending calls. Results are stored by index, so their order is the
input order, and cancelling ``process`` cancels every task it started.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TypeAlias

__all__ = ["TRANSIENT_ERRORS", "BatchProcessor", "BatchResult", "ItemResult", "JSONValue"]

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
Handler: TypeAlias = Callable[[JSONValue], Awaitable[JSONValue]]
Sleep: TypeAlias = Callable[[float], Awaitable[object]]

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (ConnectionError, TimeoutError)
"""The exception types that earn another attempt by default."""

logger = logging.getLogger("batch_processor")


@dataclass(frozen=True)
class ItemResult:
    """Where an item stood in the input, how it ended, and after how many attempts."""

    index: int
    ok: bool
    value: JSONValue = None
    error: str | None = None
    attempts: int = 1

    def to_dict(self) -> dict[str, JSONValue]:
        """Return the fields of this result as a plain JSON dict (via ``asdict``)."""
        return asdict(self)


@dataclass(frozen=True)
class BatchResult:
    """The results of one batch, in input order, with the metrics it logged."""

    results: tuple[ItemResult, ...]
    metrics: dict[str, int | float]

    @property
    def failed(self) -> list[ItemResult]:
        """Return only the results that failed, keeping their input order."""
        return [result for result in self.results if not result.ok]

    def to_dict(self) -> dict[str, JSONValue]:
        """Return the results list and a copy of the metrics as plain JSON values."""
        return {
            "results": [result.to_dict() for result in self.results],
            "metrics": {**self.metrics},
        }


class BatchProcessor:
    """Runs a handler over items with a hand-made sliding window of in-flight calls."""

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
        """Store the handler and the settings after checking them (ValueError if invalid).

        ValueError too when ``handler`` is not callable.
        """
        if not callable(handler):
            raise ValueError("handler must be a callable returning an awaitable")
        counts = {"chunk_size": chunk_size, "max_concurrency": max_concurrency}
        counts["max_attempts"] = max_attempts
        bad = [name for name, value in counts.items() if type(value) is not int or value < 1]
        if bad:
            raise ValueError(f"{', '.join(bad)} must be ints of at least 1")
        if base_delay < 0 or base_delay > max_delay:
            raise ValueError(f"need 0 <= base_delay <= max_delay, got {base_delay}, {max_delay}")
        if item_timeout <= 0:
            raise ValueError(f"item_timeout must be above 0 seconds, got {item_timeout!r}")
        self.handler = handler
        self.chunk_size = chunk_size
        self.max_concurrency = max_concurrency
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.item_timeout = item_timeout
        self.transient = transient
        self.sleep = sleep
        self.random = random
        self.batch_count = 0

    async def process(self, items: Sequence[JSONValue]) -> BatchResult:
        """Run the handler on all ``items`` and return one result per item, in input order.

        Raises TypeError unless ``items`` is a list or tuple; chunks of ``chunk_size`` run
        one after another, each through a window of at most ``max_concurrency`` calls.
        """
        if not isinstance(items, list | tuple):
            raise TypeError(f"expected a list or tuple of items, got {type(items).__name__}")
        self.batch_count += 1
        started = time.perf_counter()
        outcomes: dict[int, ItemResult] = {}
        starts = range(0, len(items), self.chunk_size)
        try:
            for start in starts:
                positions = range(start, min(start + self.chunk_size, len(items)))
                outcomes.update(await self._run_window(items, positions))
        except asyncio.CancelledError:
            logger.warning(
                "batch %d cancelled: %d items had finished", self.batch_count, len(outcomes)
            )
            raise
        results = tuple(outcomes[index] for index in range(len(items)))
        failed = [result for result in results if not result.ok]
        metrics: dict[str, int | float] = {
            "batch_id": self.batch_count,
            "items": len(items),
            "chunks": len(starts),
            "succeeded": len(results) - len(failed),
            "failed": len(failed),
            "retries": sum(result.attempts for result in results) - len(results),
            "duration_ms": round(1000 * (time.perf_counter() - started), 3),
        }
        logger.info("batch %d: %s", self.batch_count, metrics, extra={"batch_metrics": metrics})
        return BatchResult(results, metrics)

    def backoff_delay(self, attempt: int) -> float:
        """Return random() times the capped exponential delay after attempt ``attempt``."""
        return self.random() * min(self.max_delay, self.base_delay * (1 << (attempt - 1)))

    async def _run_window(
        self, items: Sequence[JSONValue], positions: range
    ) -> dict[int, ItemResult]:
        """Run the handler on ``positions`` of ``items`` through the window; results by index."""
        waiting: deque[tuple[int, int]] = deque((index, 1) for index in positions)
        calls: dict[asyncio.Task[JSONValue], tuple[int, int]] = {}
        backoffs: set[asyncio.Task[None]] = set()
        outcomes: dict[int, ItemResult] = {}
        try:
            while waiting or calls or backoffs:
                while waiting and len(calls) < self.max_concurrency:
                    index, attempt = waiting.popleft()
                    calls[asyncio.create_task(self._call(items[index]))] = (index, attempt)
                done, _ = await asyncio.wait(
                    {*calls, *backoffs}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    if task in backoffs:
                        backoffs.discard(task)
                        continue
                    index, attempt = calls.pop(task)
                    error = task.exception()
                    if error is None:
                        outcomes[index] = ItemResult(index, True, task.result(), None, attempt)
                    elif isinstance(error, self.transient) and attempt < self.max_attempts:
                        backoffs.add(asyncio.create_task(self._back_off(index, attempt, waiting)))
                    else:
                        message = f"{type(error).__name__}: {error}"
                        outcomes[index] = ItemResult(index, False, None, message, attempt)
        finally:
            pending = [*calls, *backoffs]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        return outcomes

    async def _call(self, item: JSONValue) -> JSONValue:
        """One handler call on ``item``, cut off after ``item_timeout`` seconds."""
        try:
            async with asyncio.timeout(self.item_timeout):
                return await self.handler(item)
        except TimeoutError as error:
            if error.args:
                raise
            raise TimeoutError(f"item_timeout of {self.item_timeout} s exceeded") from None

    async def _back_off(self, index: int, attempt: int, waiting: deque[tuple[int, int]]) -> None:
        """Sleep the backoff after failed ``attempt``, then queue the item at ``index`` again."""
        await self.sleep(self.backoff_delay(attempt))
        waiting.append((index, attempt + 1))
