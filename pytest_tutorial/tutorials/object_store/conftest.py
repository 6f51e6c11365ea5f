"""Fixtures shared by the object_store tutorial's checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_tutorial import AwsMock, Solution
from pytest_tutorial.tutorials.object_store.support import (
    BASE_DELAY,
    MAX_ATTEMPTS,
    MAX_BYTES,
    MAX_DELAY,
    FakeSleep,
)


@pytest.fixture
def fake_sleep() -> FakeSleep:
    """The ``sleep`` the store gets: records delays, never waits."""
    return FakeSleep()


@pytest.fixture
def store_factory(aws: AwsMock, fake_sleep: FakeSleep) -> Callable[..., Any]:
    """Build any implementation's DocumentStore on the check's moto, with the checks' settings.

    ``store_factory(implementation, recorded=True, **overrides)``: ``recorded=False`` gives
    it clients whose calls are not recorded (the reference's store in the load test).
    """

    def make(implementation: Solution, *, recorded: bool = True, **overrides: Any) -> Any:
        client = aws.client if recorded else aws.sandbox.new_client
        options: dict[str, Any] = {
            "s3": client("s3"),
            "dynamodb": client("dynamodb"),
            "sqs": client("sqs"),
            "bucket": aws.bucket,
            "table": aws.table,
            "queue_url": aws.queue_url,
            "max_bytes": MAX_BYTES,
            "max_attempts": MAX_ATTEMPTS,
            "base_delay": BASE_DELAY,
            "max_delay": MAX_DELAY,
            "sleep": fake_sleep,
        }
        options.update(overrides)
        return implementation.DocumentStore(**options)

    return make


@pytest.fixture
def make_store(solution: Solution, store_factory: Callable[..., Any]) -> Callable[..., Any]:
    """Build the learner's DocumentStore with the checks' settings; overrides by keyword."""

    def make(**overrides: Any) -> Any:
        return store_factory(solution, **overrides)

    return make


@pytest.fixture
def make_default_store(
    solution: Solution, aws: AwsMock, fake_sleep: FakeSleep
) -> Callable[..., Any]:
    """Build the learner's DocumentStore with only the required arguments (and ``sleep``),
    so its documented defaults apply; overrides by keyword."""

    def make(**overrides: Any) -> Any:
        options: dict[str, Any] = {
            "s3": aws.client("s3"),
            "dynamodb": aws.client("dynamodb"),
            "sqs": aws.client("sqs"),
            "bucket": aws.bucket,
            "table": aws.table,
            "queue_url": aws.queue_url,
            "sleep": fake_sleep,
        }
        return solution.DocumentStore(**{**options, **overrides})

    return make


@pytest.fixture
def store(make_store: Callable[..., Any]) -> Any:
    """The learner's DocumentStore on the check's moto."""
    return make_store()
