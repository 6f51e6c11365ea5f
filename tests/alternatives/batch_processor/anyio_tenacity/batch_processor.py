"""An async batch processor on anyio (task groups, a capacity limiter) and tenacity (retries).

Each chunk runs in an anyio task group; an ``anyio.CapacityLimiter`` of ``max_concurrency``
tokens bounds the handler calls in flight, and ``anyio.fail_after`` cuts each call off.
tenacity's ``AsyncRetrying`` drives the retries: it stops after ``max_attempts``, retries
only the transient exception types, and waits full-jitter delays through the injected
``sleep``. Results are collected by position, so they come back in input order.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import anyio
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

__all__ = ["TRANSIENT_ERRORS", "BatchProcessor", "BatchResult", "ItemResult", "JSONValue"]

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
Handler: TypeAlias = Callable[[JSONValue], Awaitable[JSONValue]]
Sleep: TypeAlias = Callable[[float], Awaitable[object]]

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (ConnectionError, TimeoutError)
"""Exception types worth another attempt unless the caller chooses others."""

logger = logging.getLogger("batch_processor")


@dataclass(slots=True)
class ItemResult:
    """One item's outcome: its index, whether it succeeded, its value or error, attempts."""

    index: int
    ok: bool
    value: JSONValue = None
    error: str | None = None
    attempts: int = 1

    def to_dict(self) -> dict[str, JSONValue]:
        """Return the five fields of this outcome as a plain JSON dict."""
        return {
            "index": self.index,
            "ok": self.ok,
            "value": self.value,
            "error": self.error,
            "attempts": self.attempts,
        }


@dataclass(slots=True)
class BatchResult:
    """A finished batch: a list of item results in input order and its metrics dict."""

    results: list[ItemResult] = field(default_factory=list)
    metrics: dict[str, int | float] = field(default_factory=dict)

    @property
    def failed(self) -> list[ItemResult]:
        """Return the item results that ended in an error, in input order."""
        return [result for result in self.results if not result.ok]

    def to_dict(self) -> dict[str, JSONValue]:
        """Return the results and the metrics of this batch as plain JSON values."""
        return {
            "results": [result.to_dict() for result in self.results],
            "metrics": dict(self.metrics),
        }


class BatchProcessor:
    """Runs an async handler over a batch with anyio for concurrency and tenacity for retries."""

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
        """Validate the settings, raising ValueError for a bad one, and keep the handler.

        ``handler`` must be callable: anything else raises ValueError too.
        """
        if not callable(handler):
            raise ValueError(f"handler must be callable, got {type(handler).__name__}")
        for name, count in (
            ("chunk_size", chunk_size),
            ("max_concurrency", max_concurrency),
            ("max_attempts", max_attempts),
        ):
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {count!r}")
        if not 0 <= base_delay <= max_delay:
            raise ValueError(f"need 0 <= base_delay <= max_delay, got {base_delay}, {max_delay}")
        if not item_timeout > 0:
            raise ValueError(f"item_timeout must be a positive number, got {item_timeout!r}")
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
        self._finished_batches = 0

    async def process(self, items: Sequence[JSONValue]) -> BatchResult:
        """Process ``items`` in chunks with bounded concurrency; results keep input order.

        Raises TypeError unless ``items`` is a list or tuple. A failing item yields a failed
        result; cancelling this call cancels the task group and every call in it.
        """
        if not isinstance(items, list | tuple):
            raise TypeError(f"process() takes a list or tuple, got {type(items).__name__}")
        self._finished_batches += 1
        batch_id = self._finished_batches
        clock = time.perf_counter()
        limiter = anyio.CapacityLimiter(self._max_concurrency)
        by_index: dict[int, ItemResult] = {}
        chunk_starts = range(0, len(items), self._chunk_size)
        try:
            for start in chunk_starts:
                async with anyio.create_task_group() as group:
                    for index in range(start, min(start + self._chunk_size, len(items))):
                        group.start_soon(self._settle, index, items[index], limiter, by_index)
        except anyio.get_cancelled_exc_class():
            logger.warning("batch %s cancelled, %d items settled", batch_id, len(by_index))
            raise
        batch = BatchResult([by_index[index] for index in range(len(items))])
        failures = len(batch.failed)
        batch.metrics.update(
            batch_id=batch_id,
            items=len(items),
            chunks=len(chunk_starts),
            succeeded=len(items) - failures,
            failed=failures,
            retries=sum(result.attempts - 1 for result in batch.results),
            duration_ms=round((time.perf_counter() - clock) * 1e3, 3),
        )
        logger.info(
            "batch %s done: %s", batch_id, batch.metrics, extra={"batch_metrics": batch.metrics}
        )
        return batch

    def backoff_delay(self, attempt: int) -> float:
        """Return a full-jitter delay in seconds after failed attempt number ``attempt``."""
        return self._random() * min(self._max_delay, self._base_delay * 2.0 ** (attempt - 1))

    async def _call_with_deadline(self, item: JSONValue) -> JSONValue:
        """Await the handler on ``item``; past ``item_timeout`` raise an explained TimeoutError."""
        try:
            with anyio.fail_after(self._item_timeout):
                return await self._handler(item)
        except TimeoutError as error:
            raise TimeoutError(f"no answer after {self._item_timeout:g} s") from error

    async def _pause(self, seconds: float) -> None:
        """tenacity's sleep: wait ``seconds`` through the injected ``sleep``."""
        await self._sleep(seconds)

    def _wait(self, state: RetryCallState) -> float:
        """tenacity's wait strategy: the backoff after the attempt that just failed."""
        return self.backoff_delay(state.attempt_number)

    async def _settle(
        self,
        index: int,
        item: JSONValue,
        limiter: anyio.CapacityLimiter,
        by_index: dict[int, ItemResult],
    ) -> None:
        """Store the outcome of ``item`` under ``index`` once retries are exhausted or moot."""
        attempts = 0
        retrying = AsyncRetrying(
            sleep=self._pause,
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(self._transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    async with limiter:
                        value = await self._call_with_deadline(item)
        except Exception as error:
            by_index[index] = ItemResult(
                index, False, None, f"{type(error).__name__}: {error}", attempts
            )
        else:
            by_index[index] = ItemResult(index, True, value, None, attempts)
