"""Checks of "Integration points work correctly": exact keys, TTLs and JSON read from Redis."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from pytest_tutorial import FakeClock, assert_same_json
from pytest_tutorial.tutorials.caching.support import NAMESPACE, TTL_SECONDS, Computation


@pytest.mark.checklist(
    "integration",
    points=2,
    step=2,
    hint=[
        "Redis should hold exactly '<namespace>:<key>' with a TTL and the value as JSON",
        "store json.dumps(value) under redis_key(key) with SET ... EX ttl_seconds in one "
        "command, so no key ever lives without its TTL",
    ],
)
def test_values_stored_under_namespaced_keys_with_ttl(service: Any, redis_inspector: Any) -> None:
    value = {"id": 42, "tags": ["a", "b"]}
    service.get_or_compute("user:42", Computation(value))
    service.set("user:43", {"id": 43})
    keys = sorted(key.decode() for key in redis_inspector.keys("*"))
    assert keys == [f"{NAMESPACE}:user:42", f"{NAMESPACE}:user:43"], f"Redis holds {keys}"
    for key in keys:
        ttl = redis_inspector.ttl(key)
        assert 0 < ttl <= TTL_SECONDS, (
            f"{key} has TTL {ttl}, expected at most ttl_seconds={TTL_SECONDS} (-1 means no expiry)"
        )
    assert_same_json(
        json.loads(redis_inspector.get(f"{NAMESPACE}:user:42")),
        value,
        what="the JSON stored for user:42",
    )


@pytest.mark.checklist(
    "integration",
    step=2,
    hint="after ttl_seconds Redis drops the key and the next read computes again",
)
def test_expired_values_are_recomputed(
    service: Any, redis_inspector: Any, fake_clock: FakeClock
) -> None:
    compute = Computation()
    service.get_or_compute("k", compute)
    fake_clock.advance(TTL_SECONDS + 1)
    assert redis_inspector.exists(f"{NAMESPACE}:k") == 0, "the key outlived its TTL"
    assert_same_json(
        service.get_or_compute("k", compute), {"computed": 2}, what="the read after expiry"
    )


@pytest.mark.checklist(
    "integration",
    step=2,
    hint="services sharing a Redis and a namespace share "
    "values; another namespace sees none of them",
)
def test_services_share_redis_by_namespace(make_service: Callable[..., Any]) -> None:
    compute = Computation()
    make_service().get_or_compute("shared", compute)
    assert_same_json(
        make_service().get_or_compute("shared", compute),
        {"computed": 1},
        what="a second service's read",
    )
    assert compute.calls == 1, "a second service with the same namespace recomputed the value"
    make_service(namespace="other").get_or_compute("shared", compute)
    assert compute.calls == 2, "a service with another namespace read the first one's value"


@pytest.mark.asyncio
@pytest.mark.checklist(
    "integration",
    step=2,
    hint="any Redis client, sync or async, must be able "
    "to read what the service wrote: plain JSON under the namespaced key",
)
async def test_async_clients_read_what_the_service_wrote(
    service: Any, async_redis_client: Any
) -> None:
    service.set("profile:9", {"plan": "pro", "seats": 3})
    raw = await async_redis_client.get(f"{NAMESPACE}:profile:9")
    assert raw is not None, f"an asyncio client found nothing under {NAMESPACE}:profile:9"
    assert_same_json(
        json.loads(raw), {"plan": "pro", "seats": 3}, what="the value the async client read"
    )


@pytest.mark.checklist(
    "integration",
    step=2,
    hint="a client made with decode_responses=True returns str, not bytes: decode only what "
    "is bytes, and json.loads the rest",
)
def test_a_client_that_decodes_responses_works(
    make_service: Callable[..., Any], decoding_redis_client: Any, redis_inspector: Any
) -> None:
    make_service(decoding_redis_client).set("profile:1", {"plan": "pro", "tags": ["a"]})
    fresh = make_service(decoding_redis_client)
    assert_same_json(
        fresh.get("profile:1"),
        {"plan": "pro", "tags": ["a"]},
        what="get('profile:1') through a client with decode_responses=True",
    )
    compute = Computation()
    assert_same_json(
        fresh.get_or_compute("profile:1", compute),
        {"plan": "pro", "tags": ["a"]},
        what="get_or_compute('profile:1') through a client with decode_responses=True",
    )
    assert compute.calls == 0, "get_or_compute recomputed a value that was in Redis"
    raw = redis_inspector.get(f"{NAMESPACE}:profile:1")
    assert raw is not None, f"nothing stored under {NAMESPACE}:profile:1"
    assert_same_json(
        json.loads(raw), {"plan": "pro", "tags": ["a"]}, what="the JSON stored for profile:1"
    )
