"""Checks of "Tests pass consistently": the learner's own async tests, repeated and shuffled."""

from __future__ import annotations

from pytest_tutorial import own_tests_checks

test_own_tests_pass_in_shuffled_order, test_own_tests_catch_known_bugs = own_tests_checks(
    step=5,
    pass_hint=(
        "put your tests in tests/ next to batch_processor.py; mark each async test "
        "@pytest.mark.asyncio, build a fresh processor and handler in each, never sleep for real"
    ),
    catch_hint=(
        "test the concurrency bound with a handler that counts calls in flight, and the "
        "order of results with calls that finish out of order",
        "for the hidden bugs, test the whole contract: bad settings and inputs are rejected; "
        "transient errors are retried with the recorded delays, others are not; attempts, "
        "failed results and every metric are exact; a hung call times out",
    ),
)
