"""pytest-tutorial: automated checks for hands-on tutorials, reported against their checklists.

The plugin lives in :mod:`pytest_tutorial.plugin` (the pytest11 entry point ``tutorial``).
This module offers the small public API that tutorial check modules use. pytest imports
this package in every run, so the names below are resolved lazily, on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_tutorial.errors import usage_error
    from pytest_tutorial.load import LoadResult, run_load, run_load_async
    from pytest_tutorial.plain import as_plain_json, assert_same_json

__version__ = "0.1.0"

_LAZY = {
    "LoadResult": "pytest_tutorial.load",
    "run_load": "pytest_tutorial.load",
    "run_load_async": "pytest_tutorial.load",
    "usage_error": "pytest_tutorial.errors",
    "as_plain_json": "pytest_tutorial.plain",
    "assert_same_json": "pytest_tutorial.plain",
}

__all__ = [
    "LoadResult",
    "__version__",
    "as_plain_json",
    "assert_same_json",
    "run_load",
    "run_load_async",
    "usage_error",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pytest_tutorial' has no attribute {name!r}")
