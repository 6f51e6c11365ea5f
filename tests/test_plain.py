"""Checks compare plain JSON values, never objects the learner made."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_tutorial import as_plain_json, assert_same_json


class EqualsEverything:
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


class SneakyDict(dict[str, Any]):
    def __eq__(self, other: object) -> bool:
        return True

    def __iter__(self) -> Any:
        return iter(["forged"])

    def keys(self) -> Any:
        return ["forged"]

    __hash__ = None


class SneakyText(str):
    def __eq__(self, other: object) -> bool:
        return True

    def __str__(self) -> str:
        return "forged"

    __hash__ = str.__hash__


class DoSleep(float):
    """What a retry library hands to an injected sleep: a float subclass."""


@pytest.mark.parametrize("value", [EqualsEverything(), [1, EqualsEverything()], (1, 2), {1, 2}])
def test_objects_that_are_not_json_are_rejected(value: object) -> None:
    with pytest.raises(AssertionError, match="expected a plain JSON value"):
        as_plain_json(value, what="the result")


def test_subclasses_of_json_types_count_for_the_value_they_hold() -> None:
    converted = as_plain_json([DoSleep(0.05), DoSleep(0.1)], what="the delays")
    assert converted == [0.05, 0.1]
    assert [type(delay) for delay in converted] == [float, float]
    assert_same_json(DoSleep(0.2), 0.2)


def test_converting_first_defeats_overridden_equality() -> None:
    sneaky = SneakyDict(real=1)
    assert as_plain_json(sneaky) == {"real": 1}
    assert type(as_plain_json(sneaky)) is dict
    with pytest.raises(AssertionError, match="expected"):
        assert_same_json(sneaky, {"forged": 1})
    text = as_plain_json(SneakyText("held"))
    assert (type(text), text) == (str, "held")
    with pytest.raises(AssertionError, match="expected"):
        assert_same_json(SneakyText("held"), "something else")


def test_deep_nesting_is_rejected_not_a_crash() -> None:
    value: list[Any] = []
    for _ in range(1000):
        value = [value]
    with pytest.raises(AssertionError, match="nested more than"):
        as_plain_json(value)


@pytest.mark.parametrize("value", [float("nan"), {1: "non-str key"}])
def test_values_json_cannot_hold_are_rejected(value: object) -> None:
    with pytest.raises(AssertionError):
        as_plain_json(value)


def test_plain_values_pass_through() -> None:
    value = {"a": [1, 2.5, None, True, "x"], "b": {}}
    assert as_plain_json(value) == value


@pytest.mark.parametrize(("actual", "expected"), [(1, 1.0), (True, 1), ({"a": 1}, {"a": "1"})])
def test_same_json_tells_types_apart(actual: object, expected: object) -> None:
    with pytest.raises(AssertionError, match="expected"):
        assert_same_json(actual, expected, what="x")


def test_same_json_ignores_key_order() -> None:
    assert_same_json({"a": 1, "b": 2}, {"b": 2, "a": 1})
