"""Async checks: coroutine checks and fixtures run by pytest-asyncio, immune to learner config.

A tutorial author writes ``async def test_...`` (and, if needed, ``async def`` fixtures) and
nothing else. Whatever the learner's ini file says (``asyncio_mode`` strict or auto, any
``asyncio_default_test_loop_scope`` or ``asyncio_default_fixture_loop_scope``):

- every coroutine check gets the ``asyncio`` marker with a function-scoped loop while it is
  collected (pytest-asyncio decides at collection time which items it runs), unless the
  author chose a loop scope on the check, its class or its module;
- every async fixture of the tutorial runs in that same function-scoped loop, unless its
  ``@pytest_asyncio.fixture`` names a loop scope;
- a coroutine check past its time limit is cancelled inside its loop, so the learner's
  coroutines unwind (``finally`` blocks, task groups) and the loop closes cleanly, and the
  check is reported as a timeout. Code that swallows the cancellation or blocks the loop is
  stopped :data:`CANCEL_GRACE_S` later by the harness's ``SIGALRM`` limit.

A fresh loop per check means a check that leaves tasks behind cannot disturb the next one.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.timeouts import CheckTimeout, StillRunning

LOOP_SCOPE = "function"
"""The loop scope of every async check and fixture the author did not give one."""
CANCEL_GRACE_S = 1.0
"""How long a cancelled check may take to unwind before it is stopped the hard way."""

_FUNCTION_LOOP = pytest.mark.asyncio(loop_scope=LOOP_SCOPE)


def is_coroutine_check(obj: object) -> bool:
    """True for an ``async def`` test function, also when ``@hypothesis.given`` wraps it."""
    if inspect.iscoroutinefunction(obj):
        return True
    inner = getattr(getattr(obj, "hypothesis", None), "inner_test", None)
    return bool(getattr(obj, "is_hypothesis_test", False)) and inspect.iscoroutinefunction(inner)


def mark_coroutine_check(collector: pytest.Collector, name: str, obj: object) -> None:
    """Put the function-scoped ``asyncio`` marker on a coroutine check before it is collected.

    The marker goes first among the function's own markers, so it is the closest one and
    an author's plain ``@pytest.mark.asyncio`` (without a loop scope) does not fall back to
    the learner's default scope. A loop scope the author chose is kept.
    """
    if not name.startswith("test") or not is_coroutine_check(obj):
        return
    own = list(getattr(obj, "pytestmark", []))
    chosen = [mark for mark in own if mark.name == "asyncio" and _has_loop_scope(mark)]
    if chosen or any(_has_loop_scope(mark) for mark in collector.iter_markers("asyncio")):
        return
    obj.pytestmark = [_FUNCTION_LOOP.mark, *own]  # type: ignore[attr-defined]


def _has_loop_scope(mark: pytest.Mark) -> bool:
    return bool(mark.kwargs.get("loop_scope") or mark.kwargs.get("scope"))


def adopt_async_fixture(fixturedef: pytest.FixtureDef[Any], tutorial_dir: Path) -> None:
    """Make pytest-asyncio run a tutorial's async fixture in the check's own loop.

    Without this, strict mode ignores a plain ``@pytest.fixture async def`` (pytest then
    fails the check), and ``asyncio_default_fixture_loop_scope`` would move a
    ``@pytest_asyncio.fixture`` without a loop scope into another loop than the check's.
    This sets what ``@pytest_asyncio.fixture(loop_scope="function")`` sets; fixtures of
    other folders (the harness's, the learner's) are left alone.
    """
    func: Any = getattr(fixturedef.func, "__func__", fixturedef.func)
    if not (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)):
        return
    try:
        source = inspect.getsourcefile(func)
    except TypeError:
        return
    if source is None or Path(source).resolve().parent != tutorial_dir.resolve():
        return
    func._force_asyncio_fixture = True
    if getattr(func, "_loop_scope", None) is None:
        func._loop_scope = LOOP_SCOPE


@contextmanager
def cancel_at_time_limit(item: pytest.Item, seconds: float | None) -> Iterator[float | None]:
    """While a coroutine check runs, cancel it in its loop once ``seconds`` have passed.

    Yields the limit for the harness's hard (``SIGALRM``) stop: ``seconds`` for other
    checks, ``seconds`` plus :data:`CANCEL_GRACE_S` for coroutine checks, which normally
    end at the cancellation long before.
    """
    target = _coroutine_target(item) if seconds else None
    if target is None or seconds is None:
        yield seconds
        return
    owner, attribute = target
    original = getattr(owner, attribute)
    deadline = time.monotonic() + seconds
    setattr(owner, attribute, _cancelled_at(original, deadline, seconds))
    try:
        yield seconds + CANCEL_GRACE_S
    except CheckTimeout as stopped:
        if stopped.seconds == seconds:
            raise
        raise CheckTimeout(seconds) from None  # the hard stop: report the check's own limit
    finally:
        setattr(owner, attribute, original)


def _coroutine_target(item: pytest.Item) -> tuple[object, str] | None:
    """Where pytest-asyncio will find the check's coroutine function, if it runs this item.

    The same place pytest-asyncio synchronizes: the test function, or hypothesis' inner
    test when ``@given`` wraps it.
    """
    if not isinstance(item, pytest.Function) or item.get_closest_marker("asyncio") is None:
        return None
    obj = item.obj
    if inspect.iscoroutinefunction(obj):
        return item, "obj"
    if is_coroutine_check(obj):
        return obj.hypothesis, "inner_test"
    return None


def _cancelled_at(
    func: Callable[..., Coroutine[Any, Any, Any]], deadline: float, seconds: float
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``func`` under ``asyncio.timeout_at``: past ``deadline`` it is cancelled and times out.

    A check that was cancelled counts as timed out however it ended: with the
    cancellation, another exception the learner turned it into, or a value after the
    learner's code swallowed it.
    """

    @functools.wraps(func)
    async def within_time_limit(*args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        scope = asyncio.timeout_at(loop.time() + (deadline - time.monotonic()))
        try:
            async with scope:
                result = await func(*args, **kwargs)
        except (GeneratorExit, StillRunning):
            raise  # the coroutine is being closed, or the hard stop is leaving the check
        except BaseException:
            if scope.expired():
                raise CheckTimeout(seconds) from None
            raise
        if scope.expired():
            raise CheckTimeout(seconds)
        return result

    return within_time_limit
