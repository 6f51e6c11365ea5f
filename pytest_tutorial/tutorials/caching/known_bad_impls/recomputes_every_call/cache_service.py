"""Known-bad ``cache_service``: stores nothing, so every call recomputes; ``get`` gives None."""

from __future__ import annotations

from typing import Any

from pytest_tutorial.tutorials.caching.known_bad import JSONValue, NaiveCacheService, monitor

__all__ = ["CacheService", "JSONValue", "monitor"]


class CacheService(NaiveCacheService):
    """A cache service that never stores a value."""

    def __init__(self, redis_client: Any, **settings: Any) -> None:
        super().__init__(redis_client, **settings, store_values=False)
