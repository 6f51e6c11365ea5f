"""Your tests for ``rate_limiter`` (Step 5 of the rate_limiter tutorial).

Run them from ``exercises/rate_limiter`` with ``python -m pytest tests``. ``pytest
--tutorial=rate_limiter`` runs them too: three times, in shuffled order, and against two
known-bad limiters (a fixed window that lets twice the limit through around its edge, and
one that writes keys without a TTL). Your suite must pass on a correct limiter and fail on
both bad ones. It must also catch at least 2 of 4 hidden bugs (small changes to a correct
limiter); a bug counts as caught only by a test that passes against a correct limiter.
"""

from __future__ import annotations

import fakeredis
import pytest
from rate_limiter import RateLimiter


class FakeClock:
    """A clock the test moves by hand: seconds, starting on a window edge."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_limit_plus_one_is_refused() -> None:
    limiter = RateLimiter(fakeredis.FakeRedis(), limit=3, window_seconds=10, clock=FakeClock())

    decisions = [limiter.hit("user:1") for _ in range(4)]

    assert [decision["allowed"] for decision in decisions] == [True, True, True, False]


def test_empty_key_is_rejected() -> None:
    limiter = RateLimiter(fakeredis.FakeRedis())

    with pytest.raises(ValueError, match="key"):
        limiter.hit("")


# What else to test (each test builds its own fakeredis.FakeRedis() and FakeClock(): no
# shared state, no reliance on test order, no real sleeps):
#
# - remaining counts down to 0; a refused hit's retry_after is exact: move the clock by
#   retry_after - 0.001 and the hit is still refused, by retry_after and it passes.
# - No burst across a window edge: the limit at 9.99 s, then one more at 10.01 s: refused.
# - Keys are independent; limits={"vip": 8} gives "vip" its own limit.
# - Every key has a TTL: 0 < client.pttl("ratelimit:user:1") <= window in ms.
# - Bad keys ("", 257 characters, non-str) and settings (limit=0, limit=True,
#   window_seconds=0, namespace="") raise ValueError.
# - metrics() counts allowed, denied and errors exactly.
# - Redis down (server = fakeredis.FakeServer(); server.connected = False;
#   fakeredis.FakeRedis(server=server)): fail_open=True admits and counts an error;
#   fail_open=False refuses with a retry_after above 0.
# - hit(key, wait=...) sleeps the retry_after with the injected sleep; by default it never
#   sleeps.
# - rate_limited raises RateLimitExceeded with retry_after and never runs a refused call.
# - Forty threads behind a threading.Barrier on one key with limit 10 get exactly 10.
