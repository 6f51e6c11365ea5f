"""pytest-tutorial: automated checks for hands-on tutorials, reported against their checklists.

The plugin lives in :mod:`pytest_tutorial.plugin` (the pytest11 entry point ``tutorial``).
This module is the public API for check authors (docs/authoring.md): every name in
``__all__`` is supported; every other module of the package is internal and may change.
pytest imports this package in every run, so the names are resolved lazily, on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_tutorial.documentation import documentation_check
    from pytest_tutorial.errors import usage_error
    from pytest_tutorial.fixtures.aws import AwsMock
    from pytest_tutorial.fixtures.core import LoadRunner
    from pytest_tutorial.fixtures.redis import FakeClock
    from pytest_tutorial.grading.formats import hookimpl
    from pytest_tutorial.load import LoadResult, run_load, run_load_async
    from pytest_tutorial.memory import allocations_after, allocations_in
    from pytest_tutorial.model import Tutorial
    from pytest_tutorial.plain import as_plain_json, assert_same_json
    from pytest_tutorial.redis_backend import InstrumentedRedis, RedisBackend
    from pytest_tutorial.references import by_reference, value_now
    from pytest_tutorial.report_model import Report
    from pytest_tutorial.scaffold import not_written_yet
    from pytest_tutorial.solution import Solution
    from pytest_tutorial.stand_ins import Raises, Returns
    from pytest_tutorial.standard_checks import own_tests_checks
    from pytest_tutorial.stepped_clock import SteppedClock
    from pytest_tutorial.stillness import SolutionWatch, hold_until, settle

__version__ = "0.1.0"

_LAZY = {
    "AwsMock": "pytest_tutorial.fixtures.aws",
    "FakeClock": "pytest_tutorial.fixtures.redis",
    "InstrumentedRedis": "pytest_tutorial.redis_backend",
    "LoadRunner": "pytest_tutorial.fixtures.core",
    "RedisBackend": "pytest_tutorial.redis_backend",
    "Report": "pytest_tutorial.report_model",
    "Solution": "pytest_tutorial.solution",
    "SteppedClock": "pytest_tutorial.stepped_clock",
    "Tutorial": "pytest_tutorial.model",
    "documentation_check": "pytest_tutorial.documentation",
    "hookimpl": "pytest_tutorial.grading.formats",
    "own_tests_checks": "pytest_tutorial.standard_checks",
    "LoadResult": "pytest_tutorial.load",
    "run_load": "pytest_tutorial.load",
    "run_load_async": "pytest_tutorial.load",
    "usage_error": "pytest_tutorial.errors",
    "as_plain_json": "pytest_tutorial.plain",
    "assert_same_json": "pytest_tutorial.plain",
    "not_written_yet": "pytest_tutorial.scaffold",
    "allocations_after": "pytest_tutorial.memory",
    "allocations_in": "pytest_tutorial.memory",
    "Raises": "pytest_tutorial.stand_ins",
    "Returns": "pytest_tutorial.stand_ins",
    "hold_until": "pytest_tutorial.stillness",
    "SolutionWatch": "pytest_tutorial.stillness",
    "settle": "pytest_tutorial.stillness",
    "by_reference": "pytest_tutorial.references",
    "value_now": "pytest_tutorial.references",
}

__all__ = [
    "AwsMock",
    "FakeClock",
    "InstrumentedRedis",
    "LoadResult",
    "LoadRunner",
    "Raises",
    "RedisBackend",
    "Report",
    "Returns",
    "Solution",
    "SolutionWatch",
    "SteppedClock",
    "Tutorial",
    "__version__",
    "allocations_after",
    "allocations_in",
    "as_plain_json",
    "assert_same_json",
    "by_reference",
    "documentation_check",
    "hold_until",
    "hookimpl",
    "not_written_yet",
    "own_tests_checks",
    "run_load",
    "run_load_async",
    "settle",
    "usage_error",
    "value_now",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pytest_tutorial' has no attribute {name!r}")
