"""Fixtures shared by the batch_processor tutorial's checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_tutorial import Solution
from pytest_tutorial.tutorials.batch_processor.support import DEFAULTS, FakeRandom, FakeSleep


@pytest.fixture
def fake_sleep() -> FakeSleep:
    """The processor's sleep: records the backoff delays, never waits."""
    return FakeSleep()


@pytest.fixture
def processor_factory(fake_sleep: FakeSleep) -> Callable[..., Any]:
    """Build any implementation's BatchProcessor with the checks' settings.

    ``processor_factory(implementation, handler, **overrides)``: the performance check
    builds the learner's and the reference's processors the same way. Retries sleep
    through ``fake_sleep`` and draw their jitter from a fixed ``random`` (0.5) unless the
    check passes its own.
    """

    def make(implementation: Solution, handler: Any, **overrides: Any) -> Any:
        options: dict[str, Any] = {**DEFAULTS, "sleep": fake_sleep, "random": FakeRandom(0.5)}
        options.update(overrides)
        return implementation.BatchProcessor(handler, **options)

    return make


@pytest.fixture
def make_processor(solution: Solution, processor_factory: Callable[..., Any]) -> Callable[..., Any]:
    """Build the learner's BatchProcessor: ``make_processor(handler, **overrides)``."""

    def make(handler: Any, **overrides: Any) -> Any:
        return processor_factory(solution, handler, **overrides)

    return make
