"""Known-bad ``batch_processor``: returns results in completion order, not input order."""

from __future__ import annotations

from typing import Any

from pytest_tutorial.tutorials.batch_processor.known_bad import (
    TRANSIENT_ERRORS,
    BatchResult,
    ItemResult,
    JSONValue,
    NaiveBatchProcessor,
)

__all__ = ["TRANSIENT_ERRORS", "BatchProcessor", "BatchResult", "ItemResult", "JSONValue"]


class BatchProcessor(NaiveBatchProcessor):
    """A batch processor that collects results with asyncio.as_completed."""

    def __init__(self, handler: Any, **settings: Any) -> None:
        super().__init__(handler, **settings, keep_order=False)
