"""A tiny pytest plugin that shuffles the collected tests with a given seed.

Loaded in every run of a learner's own tests (``learner_tests.RUN_PLUGINS``), so
"tests pass consistently" means: in any order, not only the order they were written in.
"""

from __future__ import annotations

import os
import random

import pytest

from pytest_tutorial.learner_tests import SEED_VARIABLE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Shuffle the tests with the seed the harness gave, when it gave one."""
    seed = os.environ.get(SEED_VARIABLE)
    if seed is not None:
        random.Random(int(seed)).shuffle(items)


def pytest_report_header() -> str | None:
    """Say the seed, so a failing order can be replayed."""
    seed = os.environ.get(SEED_VARIABLE)
    return f"test order shuffled with seed {seed}" if seed is not None else None
