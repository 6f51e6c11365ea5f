"""An async batch processor: chunked, bounded, retrying, and honest about partial failure.

This is your starting point for the batch_processor tutorial
(``pytest_tutorial/tutorials/batch_processor/tutorial.md``). The names, signatures, type
hints and docstrings are the contract the checks test; every body that does real work
raises NotImplementedError and says which step of the tutorial implements it. Replace the
bodies, keep the signatures. Check your progress from the repository root with
``pytest --tutorial=batch_processor``.

TODO: as you implement each piece, replace the TODO notes in its docstring with a
description of what your code does: the documentation check counts a docstring that
still says TODO as missing.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
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
    """What happened to one input item (Step 1).

    TODO: describe the fields: ``index`` (position in the input), ``ok``, ``value`` (the
    handler's result when ok), ``error`` (``"ValueError: bad record"`` when not ok) and
    ``attempts`` (handler calls made for this item, retries included).
    """

    index: int
    ok: bool
    value: JSONValue = None
    error: str | None = None
    attempts: int = 1

    def to_dict(self) -> dict[str, JSONValue]:
        """Return this result as plain JSON values (Step 1).

        TODO: a dict with exactly the keys index, ok, value, error and attempts.
        """
        raise NotImplementedError("ItemResult.to_dict is not implemented yet: see Step 1")


@dataclass(frozen=True)
class BatchResult:
    """Every item's result, in input order, and the batch's metrics (Step 1).

    TODO: ``results`` has one ItemResult per input item, in input order; ``metrics`` is
    the dict logged for the batch (Step 6).
    """

    results: tuple[ItemResult, ...]
    metrics: Metrics

    @property
    def failed(self) -> list[ItemResult]:
        """Return the results of the items that failed for good, in input order (Step 1).

        TODO: the results whose ``ok`` is False.
        """
        raise NotImplementedError("BatchResult.failed is not implemented yet: see Step 1")

    def to_dict(self) -> dict[str, JSONValue]:
        """Return the results and metrics as plain JSON values (Step 1).

        TODO: ``{"results": [each result's to_dict()], "metrics": dict(self.metrics)}``.
        """
        raise NotImplementedError("BatchResult.to_dict is not implemented yet: see Step 1")


class BatchProcessor:
    """Runs an async handler over batches of items: chunked, bounded, retried, in order.

    TODO: one instance serves many batches; each ``process`` call owns its own semaphore.
    """

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
        """Store the settings (Step 1).

        TODO: raise ValueError when ``handler`` is not callable, when ``chunk_size``,
        ``max_concurrency`` or ``max_attempts`` is not an int >= 1, when ``base_delay < 0``
        or ``max_delay < base_delay``, or when ``item_timeout <= 0``. Keep the defaults:
        they are part of the contract. ``sleep`` and ``random`` are injected so tests
        never wait.
        """
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

    async def process(self, items: Sequence[JSONValue]) -> BatchResult:
        """Run the handler on every item; the results come back in input order (Step 2).

        TODO: TypeError unless ``items`` is a list or tuple. Process chunks of
        ``chunk_size`` items one after another, the items of a chunk concurrently with
        ``asyncio.gather`` and at most ``max_concurrency`` handler calls in flight (an
        ``asyncio.Semaphore``, Step 3). A failing item becomes a failed ItemResult, never
        an exception (Step 2), whose error is ``"Type: message"``; transient errors are
        retried (Step 4); every call is cut off after ``item_timeout`` with a TimeoutError
        that says so (Step 3). Cancellation cancels every call, logs a WARNING and is
        re-raised (Step 3). Log the batch's metrics at INFO (Step 6).
        """
        raise NotImplementedError("process is not implemented yet: see Step 2 of the tutorial")

    def backoff_delay(self, attempt: int) -> float:
        """Return the seconds to wait after failed attempt number ``attempt`` (Step 4).

        TODO: full jitter, one ``random()`` draw per call:
        ``random() * min(max_delay, base_delay * 2 ** (attempt - 1))``.
        """
        raise NotImplementedError("backoff_delay is not implemented yet: see Step 4")
