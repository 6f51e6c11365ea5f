"""Turn what a learner's code returned into plain values a check can trust.

A check never compares an object the learner made: an object whose ``__eq__`` always
returns True would pass every ``==``. Checks first pass results through
:func:`as_plain_json`, which accepts only the exact built-in JSON types.
"""

from __future__ import annotations

import json
import math
from typing import Any

JSON_TYPES = (type(None), bool, int, float, str, list, dict)


def as_plain_json(value: object, *, what: str = "the value") -> Any:
    """Return ``value`` if it is made only of exact built-in JSON types, else fail the check.

    ``what`` names the value in the failure message (for example ``"get('user:1')"``).
    Subclasses of ``dict``/``str``/... are rejected too: they can override ``__eq__``.
    """
    __tracebackhide__ = True
    _check_plain(value, what)
    return value


def _check_plain(value: object, path: str) -> None:
    __tracebackhide__ = True
    kind = type(value)
    if kind not in JSON_TYPES:
        raise AssertionError(
            f"{path} is a {kind.__module__}.{kind.__qualname__}, "
            "expected a plain JSON value (dict, list, str, int, float, bool or None)"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise AssertionError(f"{path} is {value!r}, which JSON cannot represent")
    if isinstance(value, list):
        for index, element in enumerate(value):
            _check_plain(element, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, element in value.items():
            if type(key) is not str:
                raise AssertionError(f"{path} has a key of type {type(key).__name__}, expected str")
            _check_plain(element, f"{path}[{key!r}]")


def assert_same_json(actual: object, expected: object, *, what: str = "the value") -> None:
    """Fail unless ``actual`` is plain JSON equal to ``expected`` *with the same types*.

    ``1 == 1.0 == True`` in Python; comparing canonical JSON text tells them apart.
    """
    __tracebackhide__ = True
    as_plain_json(actual, what=what)
    got = json.dumps(actual, sort_keys=True)
    want = json.dumps(expected, sort_keys=True)
    if got != want:
        raise AssertionError(f"{what} is {_short(got)}, expected {_short(want)}")


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
