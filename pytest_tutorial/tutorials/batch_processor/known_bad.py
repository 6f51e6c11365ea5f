"""Known-bad ``batch_processor`` implementations for the batch_processor tutorial.

:class:`NaiveBatchProcessor` is a deliberately plain implementation of the tutorial's API.
With its default flags it behaves as the contract asks; each flag switches on one classic
bug:

- ``bounded=False``: every call of a chunk runs at once (a bare ``asyncio.gather``), so
  ``max_concurrency`` is ignored;
- ``keep_order=False``: results are collected as calls finish (``asyncio.as_completed``),
  so they come back in completion order, not input order.

The harness builds one self-contained ``batch_processor.py`` per bug of :data:`KNOWN_BUGS`
from this source (:mod:`pytest_tutorial.known_bugs`), and the correct one with the defaults,
and runs the learner's own tests against each, which must catch every bug. Everything else
is correct, so tests only catch these by testing that bug. The hidden bugs are mutants of
the correct build (``hidden_bugs.json``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import random as _random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["TRANSIENT_ERRORS", "BatchResult", "ItemResult", "JSONValue", "NaiveBatchProcessor"]

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
Handler: TypeAlias = Callable[[JSONValue], Awaitable[JSONValue]]
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (ConnectionError, TimeoutError)
logger = logging.getLogger("batch_processor")

KNOWN_BUGS = {
    "unbounded_concurrency": {
        "flags": {"bounded": False},
        "description": "ignores max_concurrency: every call of a chunk runs at once",
    },
    "loses_order": {
        "flags": {"keep_order": False},
        "description": "returns results in completion order, not input order",
    },
}
"""The known bugs: the flags that switch each on, and what it does (for messages)."""
PUBLIC_NAMES = {"NaiveBatchProcessor": "BatchProcessor"}
"""The contract's name of each class, in the modules built from this one."""


@dataclass(frozen=True)
class ItemResult:
    """What happened to one input item."""

    index: int
    ok: bool
    value: JSONValue = None
    error: str | None = None
    attempts: int = 1

    def to_dict(self) -> dict[str, JSONValue]:
        """The result as plain values."""
        return {
            "index": self.index,
            "ok": self.ok,
            "value": self.value,
            "error": self.error,
            "attempts": self.attempts,
        }


@dataclass(frozen=True)
class BatchResult:
    """The results of a batch and its metrics."""

    results: tuple[ItemResult, ...]
    metrics: dict[str, int | float]

    @property
    def failed(self) -> list[ItemResult]:
        """The failed results."""
        return [result for result in self.results if not result.ok]

    def to_dict(self) -> dict[str, JSONValue]:
        """The results and metrics as plain values."""
        return {
            "results": [result.to_dict() for result in self.results],
            "metrics": dict(self.metrics),
        }


class NaiveBatchProcessor:
    """The tutorial's batch processor, plainly written, with two switchable bugs."""

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
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        bounded: bool = True,
        keep_order: bool = True,
    ) -> None:
        """Check the settings like the reference; ``bounded``/``keep_order`` are the bugs."""
        if min(chunk_size, max_concurrency, max_attempts) < 1 or not float(chunk_size).is_integer():
            raise ValueError("chunk_size, max_concurrency and max_attempts must be ints >= 1")
        if not 0 <= base_delay <= max_delay or item_timeout <= 0:
            raise ValueError("need 0 <= base_delay <= max_delay and item_timeout > 0")
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
        self.bounded = bounded
        self.keep_order = keep_order
        self.batch_ids = itertools.count(1)

    async def process(self, items: Sequence[JSONValue]) -> BatchResult:
        """Run the handler on every item, chunk by chunk."""
        if not isinstance(items, list | tuple):
            raise TypeError("items must be a list or tuple")
        started = time.perf_counter()
        slots = asyncio.Semaphore(self.max_concurrency)
        results: list[ItemResult] = []
        for start in range(0, len(items), self.chunk_size):
            chunk = items[start : start + self.chunk_size]
            calls = [self._run(start + n, item, slots) for n, item in enumerate(chunk)]
            if self.keep_order:
                results.extend(await asyncio.gather(*calls))
            else:
                results.extend([await done for done in asyncio.as_completed(calls)])
        failed = sum(not result.ok for result in results)
        metrics: dict[str, int | float] = {
            "batch_id": next(self.batch_ids),
            "items": len(items),
            "chunks": math.ceil(len(items) / self.chunk_size),
            "succeeded": len(results) - failed,
            "failed": failed,
            "retries": sum(result.attempts - 1 for result in results),
            "duration_ms": (time.perf_counter() - started) * 1000,
        }
        logger.info("batch done: %s", metrics, extra={"batch_metrics": metrics})
        return BatchResult(tuple(results), metrics)

    async def _run(self, index: int, item: JSONValue, slots: asyncio.Semaphore) -> ItemResult:
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with slots if self.bounded else contextlib.nullcontext():
                    value = await asyncio.wait_for(self.handler(item), self.item_timeout)
                return ItemResult(index, True, value, None, attempt)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, self.transient) or attempt == self.max_attempts:
                    return ItemResult(index, False, None, error, attempt)
                cap = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
                await self.sleep(self.random() * cap)
        raise AssertionError("unreachable")
