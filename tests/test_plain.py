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

    __hash__ = None


@pytest.mark.parametrize(
    "value", [EqualsEverything(), SneakyDict(), [1, EqualsEverything()], {"k": SneakyDict()}]
)
def test_objects_claiming_equality_are_rejected(value: object) -> None:
    with pytest.raises(AssertionError, match="expected a plain JSON value"):
        as_plain_json(value, what="the result")


@pytest.mark.parametrize("value", [float("nan"), {1: "non-str key"}])
def test_values_json_cannot_hold_are_rejected(value: object) -> None:
    with pytest.raises(AssertionError):
        as_plain_json(value)


def test_plain_values_pass_through() -> None:
    value = {"a": [1, 2.5, None, True, "x"], "b": {}}
    assert as_plain_json(value) is value


@pytest.mark.parametrize(("actual", "expected"), [(1, 1.0), (True, 1), ({"a": 1}, {"a": "1"})])
def test_same_json_tells_types_apart(actual: object, expected: object) -> None:
    with pytest.raises(AssertionError, match="expected"):
        assert_same_json(actual, expected, what="x")


def test_same_json_ignores_key_order() -> None:
    assert_same_json({"a": 1, "b": 2}, {"b": 2, "a": 1})
