"""Checks of "Integration points work correctly": Redis keys and TTLs, the Lua script,
the async client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import redis

from pytest_tutorial import InstrumentedRedis, Solution, as_plain_json
from pytest_tutorial.tutorials.rate_limiter.support import (
    LIMIT,
    NAMESPACE,
    WINDOW_SECONDS,
    LimiterClock,
    decision_of,
)


def keys_of(inspector: redis.Redis) -> list[str]:
    """Every key in the check's Redis, decoded and sorted."""
    return sorted(key.decode() for key in inspector.scan_iter(count=1000))


@pytest.mark.checklist(
    "integration",
    points=2,
    step=4,
    hint=[
        "every key the limiter writes needs a TTL, so keys of idle users vanish on their own",
        "PEXPIRE the key for one window each time you record a request (in the script); a "
        "key must never outlive two windows of idleness",
    ],
)
def test_every_key_has_a_ttl_and_idle_keys_vanish(
    limiter: Any, limiter_clock: LimiterClock, redis_inspector: redis.Redis
) -> None:
    for n in range(12):
        limiter.hit(f"user:{n % 4}")
        limiter_clock.advance(0.5)
    stored = keys_of(redis_inspector)
    assert stored, "after 12 hits Redis holds no key at all: where are the counts kept?"
    outside = [key for key in stored if not key.startswith(f"{NAMESPACE}:")]
    assert not outside, f"keys outside the namespace '{NAMESPACE}:': {outside}"
    ttls = {key: redis_inspector.pttl(key) for key in stored}
    # 0: the key expires this very millisecond (the check's clock stands still); -1: no TTL
    bad = {key: ttl for key, ttl in ttls.items() if not 0 <= ttl <= 2 * WINDOW_SECONDS * 1000}
    assert not bad, (
        f"keys without a TTL (-1) or with one longer than two windows "
        f"({2 * WINDOW_SECONDS:g} s), in ms: {bad}"
    )
    limiter_clock.advance(2 * WINDOW_SECONDS + 0.001)
    left = keys_of(redis_inspector)
    assert not left, (
        f"{2 * WINDOW_SECONDS:g} s after the last request these keys are still stored: {left}"
    )
    after = decision_of(limiter.hit("user:0"), "hit('user:0') after the keys expired")
    assert after["allowed"], "a key was refused after its counts expired"


@pytest.mark.checklist(
    "integration",
    points=2,
    step=4,
    hint=[
        "keep the script registered once (register_script) and call it; after SCRIPT FLUSH "
        "(a Redis restart or failover) the next call must load it again, not fail",
        "redis-py's Script object reloads on NOSCRIPT by itself; a bare EVALSHA does not",
    ],
)
def test_survives_a_script_flush(
    limiter: Any, redis_inspector: redis.Redis, redis_client: InstrumentedRedis
) -> None:
    first = decision_of(limiter.hit("k"), "hit('k')")
    redis_inspector.script_flush()
    redis_client.commands.clear()
    second = decision_of(limiter.hit("k"), "hit('k') after SCRIPT FLUSH")
    assert first["allowed"], f"hit('k') on a fresh key returned {first}"
    assert second["allowed"], f"hit('k') after SCRIPT FLUSH returned {second}"
    assert second["remaining"] == LIMIT - 2, (
        f"after SCRIPT FLUSH the second hit said remaining={second['remaining']}, expected "
        f"{LIMIT - 2}: did it reach Redis?"
    )
    metrics = as_plain_json(limiter.metrics(), what="metrics()")
    assert metrics["errors"] == 0, f"SCRIPT FLUSH made the limiter count errors: {metrics}"


@pytest.mark.checklist(
    "integration",
    points=2,
    step=3,
    hint=[
        "AsyncRateLimiter(redis.asyncio client, ...) has the same settings and an async "
        "hit(key) returning the same dict",
        "use the async client's register_script and await the script; the keys are the same "
        "as the sync limiter's, so both share one count",
    ],
)
async def test_async_limiter_shares_counts_with_the_sync_one(
    make_async_limiter: Callable[..., Any], make_limiter: Callable[..., Any]
) -> None:
    async_limiter = make_async_limiter()
    sync_limiter = make_limiter()
    first = decision_of(await async_limiter.hit("shared"), "await hit('shared')")
    assert first == {"allowed": True, "limit": LIMIT, "remaining": LIMIT - 1, "retry_after": 0}
    for _ in range(LIMIT - 1):
        sync_limiter.hit("shared")
    last = decision_of(await async_limiter.hit("shared"), "await hit('shared')")
    assert not last["allowed"], (
        f"1 async and {LIMIT - 1} sync hits used up the limit of 'shared', yet another async "
        "hit was admitted: both must keep one count in Redis"
    )


@pytest.mark.checklist(
    "integration",
    points=2,
    step=3,
    hint="40 concurrent tasks on one key with limit 10 get exactly 10 admissions: one "
    "atomic script call per hit, never a read then a write",
)
async def test_concurrent_tasks_get_exactly_the_limit(
    make_async_limiter: Callable[..., Any],
) -> None:
    limiter = make_async_limiter(limit=10)
    async with asyncio.timeout(10):
        results = await asyncio.gather(*(limiter.hit("hot") for _ in range(40)))
    decisions = [decision_of(result, "await hit('hot')") for result in results]
    admitted = sum(1 for decision in decisions if decision["allowed"])
    assert admitted == 10, f"40 concurrent tasks on 'hot' (limit 10) got {admitted} admissions"


@pytest.mark.checklist(
    "integration",
    step=6,
    hint="rate_limited works on async def functions too when given an AsyncRateLimiter: await "
    "the limiter, then the function",
)
async def test_decorator_guards_coroutine_functions(
    solution: Solution, make_async_limiter: Callable[..., Any], limiter_clock: LimiterClock
) -> None:
    limiter = make_async_limiter(limit=2)

    async def fetch(user: str) -> str:
        """Fetch one user's page."""
        await asyncio.sleep(0)
        return f"page of {user}"

    guarded = solution.rate_limited(limiter, key=lambda user: f"user:{user}")(fetch)
    assert [await guarded("ada"), await guarded("ada")] == ["page of ada"] * 2
    with pytest.raises(solution.RateLimitExceeded) as raised:
        await guarded("ada")
    retry = as_plain_json(raised.value.retry_after, what="RateLimitExceeded.retry_after")
    limiter_clock.advance(retry)
    assert await guarded("ada") == "page of ada", "a retry after retry_after seconds failed"
