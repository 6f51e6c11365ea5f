"""A hypothesis property check ends at the learner's first NotImplementedError, unshrunk."""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_tutorial.stub_properties import NOTE_PREFIX, ending_at_stubs, example_note


@dataclass
class Item:
    """What :func:`ending_at_stubs` reads of a pytest item."""

    obj: Any
    name: str = "test_property"
    fixturenames: list[str] = field(default_factory=lambda: ["service"])


def _property(error: type[Exception], calls: list[int]) -> Any:
    @settings(database=None, max_examples=50)
    @given(number=st.integers(min_value=0))
    def test_property(service: str, number: int) -> None:
        calls.append(number)
        if number >= 10:
            raise error(f"not for {number}")

    return test_property


def test_the_first_not_implemented_error_ends_the_property_with_its_example() -> None:
    calls: list[int] = []
    check = _property(NotImplementedError, calls)
    original = check.hypothesis.inner_test
    with pytest.raises(NotImplementedError) as raised, ending_at_stubs(Item(check)):  # type: ignore[arg-type]
        check(service="the learner's object")
    assert [number for number in calls if number >= 10] == [calls[-1]]  # no call after it
    assert raised.value.__notes__ == [f"{NOTE_PREFIX}: test_property(\n    number={calls[-1]},\n)"]
    assert check.hypothesis.inner_test is original


def _in_an_event_loop(check: Any, seen: list[bool]) -> None:
    """Call a coroutine property as pytest-asyncio does: its inner test run by a loop."""
    wrapped = check.hypothesis.inner_test
    seen.append(inspect.iscoroutinefunction(wrapped))
    check.hypothesis.inner_test = lambda **kwargs: asyncio.run(wrapped(**kwargs))
    check(service="the learner's object")


def test_a_coroutine_property_ends_at_it_too() -> None:
    """Run as pytest-asyncio runs one: its (wrapped) coroutine driven by an event loop."""
    calls: list[int] = []

    @settings(database=None, max_examples=50)
    @given(number=st.integers(min_value=0))
    async def test_property(service: str, number: int) -> None:
        await asyncio.sleep(0)
        calls.append(number)
        if number >= 10:
            raise NotImplementedError(f"not for {number}")

    check: Any = test_property
    original = check.hypothesis.inner_test
    seen: list[bool] = []
    with pytest.raises(NotImplementedError) as raised, ending_at_stubs(Item(check)):  # type: ignore[arg-type]
        _in_an_event_loop(check, seen)
    assert seen == [True]  # pytest-asyncio still finds a coroutine function to run
    assert [number for number in calls if number >= 10] == [calls[-1]]
    assert raised.value.__notes__[0].startswith(f"{NOTE_PREFIX}: test_property(\n")
    assert check.hypothesis.inner_test is original


def test_another_error_is_shrunk_as_before() -> None:
    calls: list[int] = []
    check = _property(ValueError, calls)
    with pytest.raises(ValueError, match="not for 10") as raised, ending_at_stubs(Item(check)):  # type: ignore[arg-type]
        check(service="the learner's object")
    assert len([number for number in calls if number >= 10]) > 1  # shrunk to the smallest
    note = raised.value.__notes__[0]
    assert note.startswith(f"{NOTE_PREFIX}: test_property(\n")  # named as hypothesis names it
    assert "    number=10,\n" in note


def test_a_check_that_is_no_property_runs_as_it_is() -> None:
    def test_plain() -> None:
        raise NotImplementedError("a stub")

    with pytest.raises(NotImplementedError, match="a stub"), ending_at_stubs(Item(test_plain)):  # type: ignore[arg-type]
        test_plain()


def test_the_note_shows_the_drawn_values_only_and_cuts_long_ones() -> None:
    note = example_note(
        "test_x", {"service": object(), "key": "k", "value": "v" * 600}, ["service"]
    )
    lines = note.splitlines()
    assert lines[0] == f"{NOTE_PREFIX}: test_x("
    assert lines[1] == "    key='k',"
    assert lines[2].startswith("    value='vvv")
    assert lines[2].endswith("…,")
    assert len(lines[2]) < 520
    assert lines[3] == ")"
