"""Checks of "All core functionality works correctly": the ``rate_limited`` decorator."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_tutorial import Solution, as_plain_json
from pytest_tutorial.tutorials.rate_limiter.support import LIMIT, LimiterClock


class Handler:
    """A function to guard: counts its calls and returns a plain value."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, user: str, page: int = 1) -> dict[str, Any]:
        self.calls += 1
        return {"user": user, "page": page}


def guarded_handler(solution: Solution, limiter: Any, handler: Handler) -> Any:
    """``handler`` wrapped by the learner's decorator, keyed by its ``user`` argument."""
    return solution.rate_limited(limiter, key=lambda user, **_: f"user:{user}")(handler)


@pytest.mark.checklist(
    "core",
    points=2,
    step=6,
    hint=[
        "rate_limited(limiter, key=...) wraps a function: key(*args, **kwargs) names the "
        "limiter key; an admitted call runs the function and returns its result",
        "a refused call never runs the function: raise RateLimitExceeded(key, retry_after), "
        "whose .retry_after is the decision's and whose message names the key and says "
        "'retry after'",
    ],
)
def test_decorator_raises_with_the_retry_after(
    solution: Solution, limiter: Any, limiter_clock: LimiterClock
) -> None:
    handler = Handler()
    guarded = guarded_handler(solution, limiter, handler)
    for n in range(LIMIT):
        result = as_plain_json(guarded("ada", page=n), what=f"guarded('ada', page={n})")
        assert result == {"user": "ada", "page": n}, f"guarded('ada', page={n}) gave {result}"
    with pytest.raises(solution.RateLimitExceeded) as raised:
        guarded("ada")
    assert handler.calls == LIMIT, f"the refused call ran the function ({handler.calls} calls)"
    retry = as_plain_json(raised.value.retry_after, what="RateLimitExceeded.retry_after")
    is_number = isinstance(retry, int | float) and not isinstance(retry, bool)
    assert is_number, f"RateLimitExceeded.retry_after is {retry!r}; expected seconds above 0"
    assert retry > 0, f"RateLimitExceeded.retry_after is {retry!r}; expected seconds above 0"
    message = str(raised.value)
    names_both = "user:ada" in message and "retry after" in message.lower()
    assert names_both, (
        f"RateLimitExceeded says {message!r}; it should name the key 'user:ada' and say "
        "'retry after' with the seconds"
    )
    result = as_plain_json(guarded("bob"), what="guarded('bob')")
    assert result == {"user": "bob", "page": 1}, "another key's call was refused or changed"
    limiter_clock.advance(retry)
    assert as_plain_json(guarded("ada"), what="guarded('ada')") == {"user": "ada", "page": 1}, (
        "a call retried after RateLimitExceeded.retry_after seconds did not pass"
    )


@pytest.mark.checklist(
    "core",
    step=6,
    hint="decorate with functools.wraps so the guarded function keeps its name and docstring",
)
def test_decorator_keeps_the_function_name(solution: Solution, limiter: Any) -> None:
    def handle_request(user: str) -> str:
        """Answer one request."""
        return user

    guarded = solution.rate_limited(limiter, key=lambda user: user)(handle_request)
    assert (guarded.__name__, guarded.__doc__) == ("handle_request", "Answer one request."), (
        f"the decorated function is called {guarded.__name__!r} with docstring {guarded.__doc__!r}"
    )
    assert as_plain_json(guarded("u"), what="guarded('u')") == "u"
