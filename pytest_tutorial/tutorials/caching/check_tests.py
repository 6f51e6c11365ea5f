"""Checks of "Tests pass consistently": the learner's own tests, repeated and shuffled."""

from __future__ import annotations

from pytest_tutorial import own_tests_checks

test_own_tests_pass_in_shuffled_order, test_own_tests_catch_known_bugs = own_tests_checks(
    step=5,
    pass_hint=(
        "put your tests in tests/ next "
        "to cache_service.py; each test makes its own fakeredis.FakeRedis() so they "
        "pass in any order"
    ),
    catch_hint=(
        "test that compute() runs once for a repeated key and that Redis holds the key with a TTL",
        "for the hidden bugs, test the whole contract through the public API: bad keys, settings "
        "and values raise ValueError; stats() counts hits, misses and Redis errors exactly; "
        "invalidate() drops both levels; the local cache evicts and expires; monitor logs at "
        "INFO and ERROR and re-raises",
    ),
)
