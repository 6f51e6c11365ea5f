"""Tests of this limiter through the public contract only, as a learner would write them.

Every test has its own ``fakeredis.FakeRedis()`` and clock, so they pass in any order.
"""

from __future__ import annotations

import asyncio
import threading

import fakeredis
import pytest
from rate_limiter import AsyncRateLimiter, RateLimiter, RateLimitExceeded, rate_limited


class FakeClock:
    """A clock the test moves by hand: seconds, starting on a window edge."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def broken_redis() -> fakeredis.FakeRedis:
    server = fakeredis.FakeServer()
    server.connected = False
    return fakeredis.FakeRedis(server=server)


def test_the_limit_passes_then_one_more_is_refused() -> None:
    limiter = RateLimiter(fakeredis.FakeRedis(), limit=3, window_seconds=10, clock=FakeClock())
    decisions = [limiter.hit("u") for _ in range(4)]
    assert [d["allowed"] for d in decisions] == [True, True, True, False]
    assert [d["remaining"] for d in decisions[:3]] == [2, 1, 0]
    assert decisions[3]["retry_after"] > 0


def test_retry_after_is_exact() -> None:
    clock = FakeClock()
    limiter = RateLimiter(fakeredis.FakeRedis(), limit=3, window_seconds=10, clock=clock)
    while limiter.hit("u")["allowed"]:
        pass
    retry = limiter.hit("u")["retry_after"]
    clock.now += retry - 0.001
    assert not limiter.hit("u")["allowed"]
    clock.now += 0.001
    assert limiter.hit("u")["allowed"]


def test_no_burst_across_a_window_edge() -> None:
    clock = FakeClock()
    limiter = RateLimiter(fakeredis.FakeRedis(), limit=3, window_seconds=10, clock=clock)
    clock.now += 9.99
    assert all(limiter.hit("u")["allowed"] for _ in range(3))
    clock.now += 0.02
    assert not limiter.hit("u")["allowed"]


def test_every_key_has_a_ttl_within_two_windows() -> None:
    redis = fakeredis.FakeRedis()
    RateLimiter(redis, window_seconds=10, namespace="api", clock=FakeClock()).hit("u")
    keys = redis.keys()
    assert keys
    assert all(key.startswith(b"api:") for key in keys)
    assert all(0 < redis.pttl(key) <= 20_000 for key in keys)


def test_keys_are_independent_and_limits_per_key() -> None:
    limiter = RateLimiter(fakeredis.FakeRedis(), limit=1, limits={"vip": 2}, clock=FakeClock())
    assert [limiter.hit("a")["allowed"] for _ in range(2)] == [True, False]
    assert limiter.hit("b")["allowed"]
    assert [limiter.hit("vip")["allowed"] for _ in range(3)] == [True, True, False]


@pytest.mark.parametrize("bad", ["", "x" * 257, 42, None])
def test_bad_keys_raise_value_error(bad: object) -> None:
    with pytest.raises(ValueError):
        RateLimiter(fakeredis.FakeRedis()).hit(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [{"limit": 0}, {"limit": True}, {"window_seconds": 0}, {"namespace": ""}, {"limits": {"k": 0}}],
)
def test_bad_settings_raise_value_error(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RateLimiter(fakeredis.FakeRedis(), **options)  # type: ignore[arg-type]


def test_metrics_and_failure_policies() -> None:
    limiter = RateLimiter(fakeredis.FakeRedis(), limit=1, clock=FakeClock())
    limiter.hit("u")
    limiter.hit("u")
    assert limiter.metrics() == {"allowed": 1, "denied": 1, "errors": 0}
    opened = RateLimiter(broken_redis())
    assert opened.hit("u")["allowed"]
    assert opened.metrics() == {"allowed": 1, "denied": 0, "errors": 1}
    closed = RateLimiter(broken_redis(), fail_open=False)
    assert not closed.hit("u")["allowed"]
    assert closed.metrics() == {"allowed": 0, "denied": 1, "errors": 1}


def test_threads_get_exactly_the_limit() -> None:
    limiter = RateLimiter(fakeredis.FakeRedis(), limit=5, clock=FakeClock())
    gate = threading.Barrier(20)
    results: list[bool] = []

    def call() -> None:
        gate.wait()
        results.append(limiter.hit("hot")["allowed"])

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results.count(True) == 5


def test_decorators_sync_and_async() -> None:
    clock = FakeClock()
    limiter = RateLimiter(fakeredis.FakeRedis(), limit=1, clock=clock)
    calls: list[str] = []

    @rate_limited(limiter, key=lambda user: user)
    def handle(user: str) -> str:
        """Handle one request of a user."""
        calls.append(user)
        return user

    assert handle("a") == "a"
    with pytest.raises(RateLimitExceeded) as raised:
        handle("a")
    assert calls == ["a"]
    clock.now += raised.value.retry_after
    assert handle("a") == "a"

    async def scenario() -> bool:
        async_limiter = AsyncRateLimiter(fakeredis.FakeAsyncRedis(), limit=1, clock=FakeClock())

        @rate_limited(async_limiter, key=lambda user: user)
        async def fetch(user: str) -> str:
            """Fetch one page of a user."""
            return user

        await fetch("a")
        try:
            await fetch("a")
        except RateLimitExceeded:
            return True
        return False

    assert asyncio.run(scenario())
