"""Values from a grading child or a submission, made safe for every writer of the parent.

Everything a child sends, and every name taken from a submission, is hostile: JSON can
carry lone surrogates (``U+D800``), control characters, integers of a thousand digits,
``NaN`` and nesting thousands deep. :func:`clean` rebuilds a decoded value within bounds
(text without surrogates or control characters and cut to a length, integers that fit a
JSON number, finite floats, containers bounded in depth and size), so that no later step
(scoring, the JSON, XML, CSV and Markdown writers, a terminal) can fail on it or be steered
by it. :func:`scrub` does the text part alone, for a whole report before it is written.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_TEXT = 4000
MAX_DEPTH = 8
MAX_ITEMS = 2000
MAX_INT = 2**53
REPLACEMENT = "\ufffd"
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
"""Not allowed in XML 1.0, or terminal controls (ESC and the C1 controls), or lone surrogates."""


def text(value: str, limit: int = MAX_TEXT) -> str:
    """``value`` without unsafe characters, cut to ``limit`` characters."""
    return _UNSAFE.sub(REPLACEMENT, value[:limit])


def clean(value: object, *, depth: int = 0, limit: int = MAX_TEXT) -> Any:
    """A bounded copy of a decoded JSON value; what cannot be kept becomes None."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return text(value, limit)
    if isinstance(value, int):
        return value if -MAX_INT <= value <= MAX_INT else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= MAX_DEPTH:
        return None
    if isinstance(value, list):
        return [clean(item, depth=depth + 1, limit=limit) for item in value[:MAX_ITEMS]]
    if isinstance(value, dict):
        return {
            text(str(key), 200): clean(item, depth=depth + 1, limit=limit)
            for key, item in list(value.items())[:MAX_ITEMS]
        }
    return None


def scrub(value: Any) -> Any:
    """``value`` with every string (keys too) made safe, nothing else changed."""
    if isinstance(value, str):
        return _UNSAFE.sub(REPLACEMENT, value)
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, dict):
        return {scrub(key): scrub(item) for key, item in value.items()}
    return value


def number(value: object) -> float | None:
    """A finite, non-negative number, or None (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) and result >= 0 else None


def string(value: object, limit: int = MAX_TEXT) -> str | None:
    """``value`` made safe when it is a string, else None."""
    return text(value, limit) if isinstance(value, str) else None
