"""Fixtures shared by the caching tutorial's checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import fakeredis
import pytest
import redis

from pytest_tutorial import FakeClock, InstrumentedRedis, RedisBackend, Solution
from pytest_tutorial.tutorials.caching.support import LOCAL_TTL_SECONDS, NAMESPACE, TTL_SECONDS


@pytest.fixture
def service_factory(redis_client: InstrumentedRedis, fake_clock: FakeClock) -> Callable[..., Any]:
    """Build any implementation's CacheService with the checks' defaults.

    ``service_factory(implementation, client=None, **overrides)``: the performance check
    builds the learner's and the reference's services the same way.
    """

    def make(implementation: Solution, client: object = None, **overrides: Any) -> Any:
        options: dict[str, Any] = {
            "namespace": NAMESPACE,
            "ttl_seconds": TTL_SECONDS,
            "local_max_entries": 16,
            "local_ttl_seconds": LOCAL_TTL_SECONDS,
            "clock": fake_clock.monotonic,
        }
        options.update(overrides)
        return implementation.CacheService(redis_client if client is None else client, **options)

    return make


@pytest.fixture
def make_service(solution: Solution, service_factory: Callable[..., Any]) -> Callable[..., Any]:
    """Build the learner's CacheService with the checks' defaults; overrides by keyword."""

    def make(client: object = None, **overrides: Any) -> Any:
        return service_factory(solution, client, **overrides)

    return make


@pytest.fixture
def service(make_service: Callable[..., Any]) -> Any:
    """The learner's CacheService on the check's fake Redis."""
    return make_service()


@pytest.fixture
def decoding_redis_client(redis_server: RedisBackend) -> Iterator[redis.Redis]:
    """A client of the check's Redis made with ``decode_responses=True``: GET returns str."""
    client: redis.Redis
    if redis_server.process is None:
        client = fakeredis.FakeRedis(server=redis_server.server, decode_responses=True)
    else:
        client = redis.Redis(
            host="127.0.0.1",
            port=redis_server.process.port,
            db=redis_server.db,
            decode_responses=True,
        )
    yield client
    client.close()
