"""Turn what a learner's code returned into plain values a check can trust.

A check never compares an object the learner made: an object whose ``__eq__`` always
returns True would pass every ``==``. Checks first pass results through
:func:`as_plain_json`, which returns the exact built-in JSON value the result holds, or
fails the check when it holds none.

Subclasses of the JSON built-ins are accepted for the value they carry: a retry library
that passes its delays as a subclass of ``float`` is correct code. The value is read
through the built-in type's own methods (``float.__float__``, ``str.__str__``,
``dict.items``...), so an overridden ``__eq__``, ``__iter__`` or ``keys`` cannot change what
is compared: convert, then compare.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 200
"""Nesting beyond this is not a plain value a check needs (and would exhaust the stack)."""
_SCALARS = (type(None), bool, int, float, str)


def as_plain_json(value: object, *, what: str = "the value") -> Any:
    """The exact built-in JSON value ``value`` holds; fail the check when it is not JSON.

    ``what`` names the value in the failure message (for example ``"get('user:1')"``).
    Accepted: None, bool, int, float (finite), str, list and dict with str keys, and
    subclasses of those, converted to the built-in type. Anything else (a tuple, a set, an
    object of the learner's) fails with a message naming ``what`` and the type found.
    """
    __tracebackhide__ = True
    return _plain(value, what, 0)


def _plain(value: object, path: str, depth: int) -> Any:
    __tracebackhide__ = True
    if depth > MAX_DEPTH:
        raise AssertionError(f"{path} is nested more than {MAX_DEPTH} levels deep")
    kind = type(value)
    if kind in _SCALARS and not isinstance(value, float):
        return value
    if isinstance(value, bool):  # bool cannot be subclassed, but a check stays explicit
        return bool(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        number = float.__float__(value)
        if not math.isfinite(number):
            raise AssertionError(f"{path} is {number!r}, which JSON cannot represent")
        return number
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, list):
        return [_plain(element, f"{path}[{n}]", depth + 1) for n, element in enumerate(value)]
    if isinstance(value, dict):
        return _plain_dict(value, path, depth)
    raise AssertionError(
        f"{path} is a {kind.__module__}.{kind.__qualname__}, "
        "expected a plain JSON value (dict, list, str, int, float, bool or None)"
    )


def _plain_dict(value: dict[Any, Any], path: str, depth: int) -> dict[str, Any]:
    __tracebackhide__ = True
    plain: dict[str, Any] = {}
    for key, element in dict.items(value):
        if not isinstance(key, str):
            raise AssertionError(f"{path} has a key of type {type(key).__name__}, expected str")
        text = str.__str__(key)
        if text in plain:
            raise AssertionError(f"{path} has the key {text!r} twice")
        plain[text] = _plain(element, f"{path}[{text!r}]", depth + 1)
    return plain


def assert_same_json(actual: object, expected: object, *, what: str = "the value") -> None:
    """Fail unless ``actual`` is plain JSON equal to ``expected`` *with the same types*.

    ``1 == 1.0 == True`` in Python; comparing canonical JSON text tells them apart.
    """
    __tracebackhide__ = True
    plain = as_plain_json(actual, what=what)
    got = json.dumps(plain, sort_keys=True)
    want = json.dumps(expected, sort_keys=True)
    if got != want:
        raise AssertionError(f"{what} is {_short(got)}, expected {_short(want)}")


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
