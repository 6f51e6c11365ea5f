"""A property check ends at the learner's first ``NotImplementedError``, unshrunk.

A starter's methods raise ``NotImplementedError`` whatever they are given. Hypothesis, seeing
a property's first example fail, goes on to shrink it, and every attempt calls the stub
again (over the channel in worker mode) for nothing a learner can use: caching's round-trip
property took 0.13 s of a graded starter's checks, 0.05 s now. For the length of a property
check, :func:`ending_at_stubs` puts a wrapper in hypothesis' ``inner_test`` (the hook it
offers async frameworks) that carries such an error out as :class:`StubReached`, which
hypothesis does not catch; the check then fails with the learner's own
``NotImplementedError``, and the example that reached it is noted as hypothesis notes a
falsifying one (not shrunk: the learner's code said that part is not written, whatever the
input). Other failures are shrunk as before. A coroutine property gets a coroutine wrapper,
which pytest-asyncio runs as it would run the property's own coroutine.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import hypothesis
import pytest

from pytest_tutorial.failures import shorten

NOTE_PREFIX = (
    "Failing test case" if hypothesis.__version_info__ >= (6, 159, 0) else "Falsifying example"
)
"""How the installed hypothesis begins its note of a failing example (the report shows it):
"test case" since hypothesis 6.159.0."""
REPR_LIMIT = 500
"""The longest argument shown in the note."""


class StubReached(BaseException):
    """A learner's ``NotImplementedError`` on its way out of hypothesis, with its example."""

    def __init__(self, error: NotImplementedError, note: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.note = note


@contextlib.contextmanager
def ending_at_stubs(item: pytest.Item) -> Iterator[None]:
    """While ``item`` (a hypothesis property) runs, its first NotImplementedError ends it.

    Anything else, and every check that is not such a property, runs as it would.
    """
    function = getattr(item, "obj", None)
    handle: Any = getattr(function, "hypothesis", None)
    inner = getattr(handle, "inner_test", None)
    if inner is None:
        yield
        return
    name = str(getattr(function, "__name__", getattr(item, "name", "test")))
    fixtures = tuple(getattr(item, "fixturenames", ()))
    handle.inner_test = _ending(inner, name, fixtures)
    try:
        yield
    except StubReached as reached:
        error = reached.error
        error.add_note(reached.note)
        raise error from None
    finally:
        handle.inner_test = inner


def _ending(inner: Callable[..., Any], name: str, fixtures: Sequence[str]) -> Callable[..., Any]:
    # hypothesis names the inner test in the notes of the failures it shrinks
    if inspect.iscoroutinefunction(inner):

        @functools.wraps(inner)
        async def ending_coroutine(*args: Any, **kwargs: Any) -> Any:
            try:
                return await inner(*args, **kwargs)
            except NotImplementedError as error:
                raise StubReached(error, example_note(name, kwargs, fixtures)) from None

        return ending_coroutine

    @functools.wraps(inner)
    def ending(*args: Any, **kwargs: Any) -> Any:
        try:
            return inner(*args, **kwargs)
        except NotImplementedError as error:
            raise StubReached(error, example_note(name, kwargs, fixtures)) from None

    return ending


def example_note(name: str, arguments: dict[str, Any], fixtures: Sequence[str]) -> str:
    """Hypothesis' note of a failing example: the drawn arguments, not the fixtures.

    Only the drawn values are shown: they are the check's own data, while a fixture's value
    may be an object of the learner's, whose ``repr`` is the learner's code.
    """
    lines = [f"{NOTE_PREFIX}: {name}("]
    for key, value in arguments.items():
        if key in fixtures:
            continue
        lines.append(f"    {key}={shorten(repr(value), REPR_LIMIT)},")
    lines.append(")")
    return "\n".join(lines)
