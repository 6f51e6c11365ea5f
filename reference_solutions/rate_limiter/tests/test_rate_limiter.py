"""Tests for the reference ``rate_limiter``: what a strong learner would write.

Every test builds its own ``fakeredis.FakeRedis()`` and its own clock, so they share nothing
and run in any order; time moves by hand, never by sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import fakeredis
import pytest
from rate_limiter import AsyncRateLimiter, RateLimiter, RateLimitExceeded, rate_limited

EPOCH = 1_800_000_000.0


class FakeClock:
    """A clock the test moves by hand: seconds, starting on a window edge."""

    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> float:
        return self.now


class Sleeps:
    """A sleep that records its delays and moves the clock instead of waiting."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.clock.now += seconds


def broken_redis() -> fakeredis.FakeRedis:
    """A client whose every command raises redis.exceptions.ConnectionError."""
    server = fakeredis.FakeServer()
    server.connected = False
    return fakeredis.FakeRedis(server=server)


def make(clock: FakeClock, **options: object) -> RateLimiter:
    settings: dict[str, object] = {"limit": 3, "window_seconds": 10, "clock": clock}
    settings.update(options)
    return RateLimiter(fakeredis.FakeRedis(), **settings)  # type: ignore[arg-type]


def test_admits_the_limit_then_refuses_with_exact_figures() -> None:
    limiter = make(FakeClock())

    decisions = [limiter.hit("u") for _ in range(4)]

    assert decisions == [
        {"allowed": True, "limit": 3, "remaining": 2, "retry_after": 0.0},
        {"allowed": True, "limit": 3, "remaining": 1, "retry_after": 0.0},
        {"allowed": True, "limit": 3, "remaining": 0, "retry_after": 0.0},
        {"allowed": False, "limit": 3, "remaining": 0, "retry_after": 10.0},
    ]


def test_retry_after_is_exact_to_the_millisecond() -> None:
    clock = FakeClock()
    limiter = make(clock)
    for _ in range(3):
        limiter.hit("u")
        clock.now += 1.0
    refused = limiter.hit("u")
    assert refused["retry_after"] == pytest.approx(7.0)

    clock.now += 6.999
    assert not limiter.hit("u")["allowed"]
    clock.now += 0.001
    assert limiter.hit("u")["allowed"]


def test_a_request_exactly_one_window_later_is_admitted() -> None:
    clock = FakeClock()
    limiter = make(clock, limit=1)
    assert limiter.hit("u")["allowed"]
    clock.now += 9.999
    assert not limiter.hit("u")["allowed"]
    clock.now += 0.001
    assert limiter.hit("u")["allowed"]


def test_no_burst_across_a_window_edge() -> None:
    clock = FakeClock()
    limiter = make(clock)
    clock.now += 9.99
    assert all(limiter.hit("u")["allowed"] for _ in range(3))

    clock.now += 0.02
    assert not any(limiter.hit("u")["allowed"] for _ in range(3))


def test_refused_requests_do_not_count() -> None:
    clock = FakeClock()
    limiter = make(clock)
    for _ in range(3):
        limiter.hit("u")
    for _ in range(9):
        clock.now += 1.0
        assert not limiter.hit("u")["allowed"]
    clock.now += 1.0  # the three admitted requests left the window; refused ones never counted

    assert [limiter.hit("u")["allowed"] for _ in range(4)] == [True, True, True, False]


def test_keys_are_independent_and_have_their_own_limits() -> None:
    limiter = make(FakeClock(), limits={"vip": 5})
    for _ in range(4):
        limiter.hit("a")

    assert limiter.hit("b") == {"allowed": True, "limit": 3, "remaining": 2, "retry_after": 0.0}
    vip = [limiter.hit("vip") for _ in range(6)]
    assert [d["allowed"] for d in vip] == [True] * 5 + [False]
    assert {d["limit"] for d in vip} == {5}
    assert limiter.limit_for("vip") == 5
    assert limiter.limit_for("other") == 3


def test_every_key_has_a_ttl_of_one_window_and_lives_under_the_namespace() -> None:
    redis = fakeredis.FakeRedis()
    limiter = RateLimiter(redis, limit=3, window_seconds=10, namespace="api", clock=FakeClock())
    limiter.hit("user:1")

    assert redis.keys() == [b"api:user:1"]
    assert 9_000 < redis.pttl("api:user:1") <= 10_000


def test_the_default_namespace_and_window() -> None:
    redis = fakeredis.FakeRedis()
    limiter = RateLimiter(redis, clock=FakeClock())
    decisions = [limiter.hit("k") for _ in range(11)]

    assert redis.keys() == [b"ratelimit:k"]
    assert 0 < redis.pttl("ratelimit:k") <= 1_000
    assert [d["allowed"] for d in decisions] == [True] * 10 + [False]
    assert decisions[-1]["retry_after"] == 1.0


def test_metrics_count_decisions() -> None:
    limiter = make(FakeClock())
    for _ in range(5):
        limiter.hit("u")

    assert limiter.metrics() == {"allowed": 3, "denied": 2, "errors": 0}


@pytest.mark.parametrize("bad", ["", "x" * 257, 42, None, b"bytes"])
def test_bad_keys_raise_value_error(bad: object) -> None:
    with pytest.raises(ValueError, match="key"):
        make(FakeClock()).hit(bad)  # type: ignore[arg-type]


def test_the_longest_key_is_accepted() -> None:
    assert make(FakeClock()).hit("k" * 256)["allowed"]


@pytest.mark.parametrize(
    "options",
    [
        {"limit": 0},
        {"limit": True},
        {"limit": 1.5},
        {"window_seconds": 0},
        {"window_seconds": 0.0009},
        {"window_seconds": "1"},
        {"window_seconds": True},
        {"namespace": ""},
        {"limits": {"vip": 0}},
        {"limits": {"": 2}},
    ],
)
def test_bad_settings_raise_value_error(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        make(FakeClock(), **options)


def test_the_smallest_settings_are_accepted() -> None:
    limiter = make(FakeClock(), limit=1, window_seconds=0.001)
    assert limiter.hit("u")["limit"] == 1


@pytest.mark.parametrize("wait", [-1, "1", True])
def test_bad_waits_raise_value_error(wait: object) -> None:
    with pytest.raises(ValueError, match="wait"):
        make(FakeClock()).hit("u", wait=wait)  # type: ignore[arg-type]


def test_hit_never_sleeps_by_default_and_sleeps_the_retry_after_with_wait() -> None:
    clock = FakeClock()
    sleeps = Sleeps(clock)
    limiter = make(clock, sleep=sleeps)
    for _ in range(3):
        limiter.hit("u")

    assert not limiter.hit("u")["allowed"]
    assert sleeps.delays == []
    assert not limiter.hit("u", wait=9.0)["allowed"]
    assert sleeps.delays == []
    assert limiter.hit("u", wait=10.0)["allowed"]
    assert sleeps.delays == [10.0]


def test_redis_down_fails_open_by_default(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="rate_limiter")
    limiter = RateLimiter(broken_redis(), limit=3)

    assert limiter.hit("u") == {"allowed": True, "limit": 3, "remaining": 3, "retry_after": 0.0}
    assert limiter.metrics() == {"allowed": 1, "denied": 0, "errors": 1}
    assert "'u'" in caplog.records[0].getMessage()


def test_redis_down_fails_closed_when_configured() -> None:
    limiter = RateLimiter(broken_redis(), limit=3, window_seconds=5, fail_open=False)

    assert limiter.hit("u") == {"allowed": False, "limit": 3, "remaining": 0, "retry_after": 5.0}
    assert limiter.metrics() == {"allowed": 0, "denied": 1, "errors": 1}


def test_concurrent_threads_get_exactly_the_limit() -> None:
    limiter = make(FakeClock(), limit=10)
    gate = threading.Barrier(40)
    results: list[bool] = []
    lock = threading.Lock()

    def call() -> None:
        gate.wait()
        allowed = limiter.hit("hot")["allowed"]
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=call) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert sorted(results) == [False] * 30 + [True] * 10
    assert limiter.metrics() == {"allowed": 10, "denied": 30, "errors": 0}


def test_survives_a_script_flush() -> None:
    redis = fakeredis.FakeRedis()
    limiter = RateLimiter(redis, limit=3, clock=FakeClock())
    limiter.hit("u")
    redis.script_flush()

    assert limiter.hit("u")["remaining"] == 1


def test_decorator_runs_admitted_calls_and_raises_on_refused_ones() -> None:
    clock = FakeClock()
    limiter = make(clock, limit=2)
    calls: list[str] = []

    @rate_limited(limiter, key=lambda user: f"user:{user}")
    def handle(user: str) -> str:
        """Handle one request."""
        calls.append(user)
        return user.upper()

    assert [handle("ada"), handle("ada")] == ["ADA", "ADA"]
    with pytest.raises(RateLimitExceeded, match=r"user:ada.*retry after") as raised:
        handle("ada")
    assert raised.value.retry_after == 10.0
    assert raised.value.key == "user:ada"
    assert calls == ["ada", "ada"]
    assert handle.__name__ == "handle"
    clock.now += 10.0
    assert handle("ada") == "ADA"


def test_async_limiter_shares_counts_with_the_sync_one() -> None:
    server = fakeredis.FakeServer()
    clock = FakeClock()
    sync_limiter = RateLimiter(fakeredis.FakeRedis(server=server), limit=3, clock=clock)

    async def scenario() -> list[bool]:
        client = fakeredis.FakeAsyncRedis(server=server)
        async_limiter = AsyncRateLimiter(client, limit=3, clock=clock)
        sync_limiter.hit("u")
        sync_limiter.hit("u")
        results = [(await async_limiter.hit("u"))["allowed"] for _ in range(2)]
        await client.aclose()
        return results

    assert asyncio.run(scenario()) == [True, False]


def test_async_limiter_admits_exactly_the_limit_under_concurrency_and_fails_closed() -> None:
    async def scenario() -> tuple[int, bool]:
        limiter = AsyncRateLimiter(fakeredis.FakeAsyncRedis(), limit=10, clock=FakeClock())
        decisions = await asyncio.gather(*(limiter.hit("hot") for _ in range(40)))
        broken_server = fakeredis.FakeServer()
        broken_server.connected = False
        broken = AsyncRateLimiter(fakeredis.FakeAsyncRedis(server=broken_server), fail_open=False)
        down = await broken.hit("u")
        return sum(d["allowed"] for d in decisions), down["allowed"]

    assert asyncio.run(scenario()) == (10, False)


def test_async_decorator_raises_on_refused_calls() -> None:
    async def scenario() -> float:
        limiter = AsyncRateLimiter(fakeredis.FakeAsyncRedis(), limit=1, clock=FakeClock())

        @rate_limited(limiter, key=lambda user: user)
        async def fetch(user: str) -> str:
            """Fetch one page."""
            return user

        assert await fetch("a") == "a"
        with pytest.raises(RateLimitExceeded) as raised:
            await fetch("a")
        return raised.value.retry_after

    assert asyncio.run(scenario()) == 1.0
