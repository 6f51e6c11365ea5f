"""Checks of "Tests pass consistently": the learner's own tests, repeated and shuffled."""

from __future__ import annotations

from pytest_tutorial import own_tests_checks

test_own_tests_pass_in_shuffled_order, test_own_tests_catch_known_bugs = own_tests_checks(
    step=5,
    pass_hint=(
        "put your tests in tests/ next "
        "to document_store.py; each test starts from a fresh mocked account (its own "
        "mock_aws(), or the session's mock reset()) and makes its own resources, so they "
        "pass in any order"
    ),
    catch_hint=(
        "test that one body put under two names is stored once, and that a repeated put "
        "sends no second event",
        "for the hidden bugs, test the whole contract: bad owners, names, bodies, content "
        "types and tags are rejected; a conflicting put raises DocumentConflict; throttling "
        "is retried with backoff and other errors are not; listing pages through every "
        "document; presign checks its arguments",
    ),
)
