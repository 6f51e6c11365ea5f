"""Known-bad ``batch_processor``: ignores max_concurrency, every call of a chunk runs at once."""

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
    """A batch processor with no concurrency bound (a bare asyncio.gather per chunk)."""

    def __init__(self, handler: Any, **settings: Any) -> None:
        super().__init__(handler, **settings, bounded=False)
