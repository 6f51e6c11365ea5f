"""Known-bad ``cache_service``: writes values to Redis without a TTL, so they never expire."""

from __future__ import annotations

from typing import Any

from pytest_tutorial.tutorials.caching.known_bad import JSONValue, NaiveCacheService, monitor

__all__ = ["CacheService", "JSONValue", "monitor"]


class CacheService(NaiveCacheService):
    """A cache service whose Redis writes have no expiry."""

    def __init__(self, redis_client: Any, **settings: Any) -> None:
        super().__init__(redis_client, **settings, set_ttl=False)
