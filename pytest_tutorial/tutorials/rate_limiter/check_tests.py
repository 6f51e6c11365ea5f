"""Checks of "Tests pass consistently": the learner's own tests, repeated and shuffled."""

from __future__ import annotations

from pytest_tutorial import own_tests_checks

test_own_tests_pass_in_shuffled_order, test_own_tests_catch_known_bugs = own_tests_checks(
    step=5,
    pass_hint=(
        "put your tests in tests/ next to rate_limiter.py; each test makes its own "
        "fakeredis.FakeRedis() and its own fake clock, so they pass in any order"
    ),
    catch_hint=(
        "test that the limit+1-th hit on a key is refused, that a burst across a window edge "
        "is refused, and that every key gets a TTL",
        "for the hidden bugs, test the whole contract through the public API: bad keys and "
        "settings raise ValueError; remaining and retry_after are exact; metrics() counts "
        "allowed, denied and errors; fail_open decides what a Redis error gives; the decorator "
        "raises RateLimitExceeded and never runs a refused call",
    ),
)
