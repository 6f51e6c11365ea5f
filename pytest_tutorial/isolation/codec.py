"""Values as they cross the channel: plain JSON by value, everything else by reference.

Shared rules of both sides: JSON values cross as themselves. ``bytes``, ``tuple``, ``set``,
``frozenset``, a ``dict`` whose keys are not all plain strings, floats JSON cannot hold,
dates, times and ``Decimal`` (as AWS responses carry them) cross as tagged objects,
``{"$bytes": "..."}`` and so on: an object with one key that starts with ``$``. Subclasses
of the JSON types cross as the built-in value they hold (read through the built-in type,
as :mod:`pytest_tutorial.plain` does). What is not a value crosses as a reference whose
form each side decides (:class:`Codec` subclasses): the worker's objects as handles, the
trusted side's functions as callbacks, its clients as connection details. Decoding never
evaluates anything: a tag names one of a fixed set of forms, and an unknown tag or a
nesting past :data:`MAX_DEPTH` is an error.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import math
from typing import Any

from pytest_tutorial.isolation.channel import MAX_FRAME

MAX_DEPTH = 100
"""Nesting beyond this is refused on both sides (a check needs no deeper value)."""
TAG = "$"
_SCALARS = (type(None), bool)


class CodecError(ValueError):
    """A value that cannot cross, or data that does not decode: says which and why."""


def _fitting(text: str | bytes | bytearray) -> Any:
    """``text`` itself, if a message can hold it; refused at once otherwise.

    Encoded, a string takes at least a byte a character (base64 bytes a third more): one
    longer than a message's cap could only be refused after it was encoded, tens of MB
    written for nothing (a learner's code may return such a value on every call).
    """
    if len(text) > MAX_FRAME:
        raise CodecError(
            f"a value of {len(text)} characters or bytes is over the {MAX_FRAME} cap of a message"
        )
    return text


class Codec:
    """Plain values both ways; :meth:`encode_other` and :meth:`decode_tag` do the rest."""

    def encode(self, value: object, depth: int = 0) -> Any:
        """``value`` as JSON data."""
        if depth > MAX_DEPTH:
            raise CodecError(f"a value nested more than {MAX_DEPTH} levels deep cannot cross")
        if type(value) is str:
            return _fitting(value)
        kind = type(value)
        if kind in _SCALARS:
            return value
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int.__int__(value)
        if isinstance(value, float):
            number = float.__float__(value)
            return number if math.isfinite(number) else {f"{TAG}float": repr(number)}
        if isinstance(value, str):
            return _fitting(str.__str__(value))
        if isinstance(value, bytes | bytearray):
            _fitting(value)
            return {f"{TAG}bytes": base64.b64encode(bytes(value)).decode("ascii")}
        if isinstance(value, list):
            return [self.encode(item, depth + 1) for item in list.copy(value)]
        if isinstance(value, tuple):
            return {f"{TAG}tuple": [self.encode(item, depth + 1) for item in tuple(value)]}
        if isinstance(value, frozenset):
            return {f"{TAG}frozenset": [self.encode(item, depth + 1) for item in value]}
        if isinstance(value, set):
            return {f"{TAG}set": [self.encode(item, depth + 1) for item in set.copy(value)]}
        if isinstance(value, dict):
            return self._encode_dict(value, depth)
        if isinstance(value, datetime.datetime | datetime.date):
            name = "datetime" if isinstance(value, datetime.datetime) else "date"
            return {f"{TAG}{name}": value.isoformat()}
        if isinstance(value, decimal.Decimal):
            return {f"{TAG}decimal": str(value)}
        return self.encode_other(value, depth)

    def _encode_dict(self, value: dict[Any, Any], depth: int) -> Any:
        items = list(dict.items(value))
        if all(type(key) is str and not key.startswith(TAG) for key, _ in items):
            return {key: self.encode(item, depth + 1) for key, item in items}
        return {
            f"{TAG}dict": [
                [self.encode(key, depth + 1), self.encode(item, depth + 1)] for key, item in items
            ]
        }

    def decode(self, data: object, depth: int = 0) -> Any:
        """JSON data back into a value."""
        if depth > MAX_DEPTH:
            raise CodecError(f"data nested more than {MAX_DEPTH} levels deep")
        if data is None or isinstance(data, bool | int | float | str):
            return data
        if isinstance(data, list):
            return [self.decode(item, depth + 1) for item in data]
        if not isinstance(data, dict):
            raise CodecError(f"unexpected data of type {type(data).__name__}")
        if len(data) == 1:
            ((key, payload),) = data.items()
            if key.startswith(TAG):
                return self._decode_tagged(key[len(TAG) :], payload, depth)
        return {str(key): self.decode(item, depth + 1) for key, item in data.items()}

    def _decode_tagged(self, tag: str, payload: object, depth: int) -> Any:
        if tag == "float":
            if payload not in ("nan", "inf", "-inf"):
                raise CodecError(f"{payload!r} is not a float JSON cannot hold")
            return float(str(payload))
        if tag == "bytes":
            if not isinstance(payload, str):
                raise CodecError("bytes must be base64 text")
            try:
                return base64.b64decode(payload, validate=True)
            except ValueError:
                raise CodecError("bytes must be base64 text") from None
        if tag in ("datetime", "date", "decimal"):
            return _scalar(tag, payload)
        if tag in ("tuple", "set", "frozenset", "dict"):
            if not isinstance(payload, list):
                raise CodecError(f"a {tag} must be a list")
            items = [self.decode(item, depth + 1) for item in payload]
            return self._container(tag, items)
        return self.decode_tag(tag, payload, depth)

    def _container(self, tag: str, items: list[Any]) -> Any:
        try:
            if tag == "tuple":
                return tuple(items)
            if tag == "set":
                return set(items)
            if tag == "frozenset":
                return frozenset(items)
            pairs = [(pair[0], pair[1]) for pair in items if isinstance(pair, list | tuple)]
            if len(pairs) != len(items) or any(len(pair) != 2 for pair in items):
                raise CodecError("a dict must be a list of [key, value] pairs")
            return dict(pairs)
        except TypeError as error:  # an unhashable key or member
            raise CodecError(f"a {tag} that cannot be built: {error}") from None

    def encode_other(self, value: object, depth: int) -> Any:
        """A value that is not plain: each side's own reference, or :class:`CodecError`."""
        raise CodecError(f"a {type(value).__name__} cannot cross")

    def decode_tag(self, tag: str, payload: object, depth: int) -> Any:
        """A tagged reference of this side's form, or :class:`CodecError`."""
        raise CodecError(f"unknown tag ${tag}")


def _scalar(tag: str, payload: object) -> Any:
    if not isinstance(payload, str):
        raise CodecError(f"a {tag} must be text")
    try:
        if tag == "datetime":
            return datetime.datetime.fromisoformat(payload)
        if tag == "date":
            return datetime.date.fromisoformat(payload)
        return decimal.Decimal(payload)
    except (ValueError, decimal.InvalidOperation):
        raise CodecError(f"{payload[:40]!r} is not a {tag}") from None


def tagged(tag: str, payload: object) -> dict[str, object]:
    """A reference in the tagged form: ``{"$tag": payload}``."""
    return {f"{TAG}{tag}": payload}
