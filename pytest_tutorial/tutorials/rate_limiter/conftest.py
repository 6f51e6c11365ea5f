"""Fixtures shared by the rate_limiter tutorial's checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_tutorial import FakeClock, InstrumentedRedis, Solution
from pytest_tutorial.tutorials.rate_limiter.support import (
    LIMIT,
    NAMESPACE,
    WINDOW_SECONDS,
    LimiterClock,
)


@pytest.fixture
def limiter_clock(fake_clock: FakeClock) -> LimiterClock:
    """The clock every limiter a check builds reads; it moves the Redis server's with it."""
    return LimiterClock(fake_clock)


def _options(clock: LimiterClock, overrides: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "limit": LIMIT,
        "window_seconds": WINDOW_SECONDS,
        "namespace": NAMESPACE,
        "clock": clock,
    }
    options.update(overrides)
    return options


@pytest.fixture
def limiter_factory(
    redis_client: InstrumentedRedis, limiter_clock: LimiterClock
) -> Callable[..., Any]:
    """``limiter_factory(implementation, client=None, **overrides)``: any implementation's
    RateLimiter with the checks' settings (the performance check builds both sides so)."""

    def make(implementation: Solution, client: object = None, **overrides: Any) -> Any:
        chosen = redis_client if client is None else client
        return implementation.RateLimiter(chosen, **_options(limiter_clock, overrides))

    return make


@pytest.fixture
def make_limiter(solution: Solution, limiter_factory: Callable[..., Any]) -> Callable[..., Any]:
    """Build the learner's RateLimiter with the checks' settings; overrides by keyword."""

    def make(client: object = None, **overrides: Any) -> Any:
        return limiter_factory(solution, client, **overrides)

    return make


@pytest.fixture
def limiter(make_limiter: Callable[..., Any]) -> Any:
    """The learner's RateLimiter on the check's fake Redis: 5 requests per 10 s per key."""
    return make_limiter()


@pytest.fixture
def make_async_limiter(
    solution: Solution, limiter_clock: LimiterClock, async_redis_client: Any
) -> Callable[..., Any]:
    """Build the learner's AsyncRateLimiter on the check's Redis; overrides by keyword."""

    def make(client: object = None, **overrides: Any) -> Any:
        chosen = async_redis_client if client is None else client
        return solution.AsyncRateLimiter(chosen, **_options(limiter_clock, overrides))

    return make
