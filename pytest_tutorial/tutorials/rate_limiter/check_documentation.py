"""Checks of "Code is well-documented": docstrings and type hints on the public API."""

from __future__ import annotations

from pytest_tutorial import documentation_check

test_public_api_has_docstrings_and_type_hints = documentation_check(
    step=1,
    hint=(
        "give the module, RateLimiter, AsyncRateLimiter, RateLimitExceeded, rate_limited and "
        "every public method a docstring of your own of at least five words that names what "
        "it does with its arguments, and full type hints (every parameter and the return)"
    ),
)
