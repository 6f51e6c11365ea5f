"""Constants and helpers shared by the object_store tutorial's checks."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import Phase

OWNER = "ada"
BASE_DELAY = 0.1
MAX_DELAY = 1.0
MAX_ATTEMPTS = 4
MAX_BYTES = 4096
"""The checks' ``max_bytes``: small, so an oversized body is cheap to build."""
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_BASE_DELAY = 0.05
DEFAULT_MAX_DELAY = 2.0
"""The constructor's documented defaults (the tutorial's "Initial Configuration")."""
WRITE_OPERATIONS = ("PutItem", "UpdateItem", "TransactWriteItems")
"""The DynamoDB calls that can write a document's item conditionally: checks that inject a
fault into "the metadata write" inject it into each, so any of them is a valid design."""
QUICK_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)
"""Hypothesis phases of the AWS properties: every example costs several moto calls, so
the "explain" phase, which reruns a failure many times over, would take seconds."""
PROPERTY_TIMEOUT_S = 120
"""The time limit of a hypothesis property over AWS: about a second on a quiet machine, it
took over 30 s (the tutorial's default limit) on a shared one running twenty processes."""


class FakeSleep:
    """A ``sleep`` that records each requested delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.delays.append(seconds)


def sha256(body: bytes) -> str:
    """The hex SHA-256 digest of ``body``."""
    return hashlib.sha256(body).hexdigest()


def object_key(body: bytes) -> str:
    """The S3 key the contract gives ``body``: ``sha256/<hex digest>``."""
    return f"sha256/{sha256(body)}"


def metadata(
    name: str,
    body: bytes,
    *,
    owner: str = OWNER,
    content_type: str = "text/plain",
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The metadata the contract promises for a document."""
    return {
        "owner": owner,
        "name": name,
        "sha256": sha256(body),
        "size": len(body),
        "content_type": content_type,
        "tags": dict(tags or {}),
    }


def item(meta: dict[str, Any]) -> dict[str, Any]:
    """The DynamoDB item (typed form) the contract stores for ``meta``."""
    return {
        "owner": {"S": meta["owner"]},
        "name": {"S": meta["name"]},
        "sha256": {"S": meta["sha256"]},
        "size": {"N": str(meta["size"])},
        "content_type": {"S": meta["content_type"]},
        "tags": {"M": {key: {"S": value} for key, value in meta["tags"].items()}},
    }


def backoff_cap(retry: int, base_delay: float = BASE_DELAY, max_delay: float = MAX_DELAY) -> float:
    """The longest wait before retry ``retry`` (from 1): ``min(max_delay, base * 2**(n-1))``."""
    cap: float = min(max_delay, base_delay * 2 ** (retry - 1))
    return cap


def backoff_problems(
    delays: list[float],
    retries: int,
    *,
    base_delay: float = BASE_DELAY,
    max_delay: float = MAX_DELAY,
) -> list[str]:
    """What is wrong with ``delays`` as the sleeps before ``retries`` retries.

    Retry ``n`` (from 1) waits between half and all of :func:`backoff_cap`.
    """
    if len(delays) != retries:
        shown = ", ".join(f"{delay:g}" for delay in delays[:8])
        more = ", ..." if len(delays) > 8 else ""
        return [f"slept {len(delays)} time(s) [{shown}{more}] for {retries} retry(ies)"]
    problems = []
    for n, delay in enumerate(delays, start=1):
        cap = backoff_cap(n, base_delay, max_delay)
        if not cap / 2 <= delay <= cap:
            problems.append(f"retry {n} slept {delay:g} s, expected {cap / 2:g} to {cap:g} s")
    return problems


def described(error: BaseException) -> str:
    """``Type: message`` of an exception, short enough for a one-line failure message."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 160 else text[:159] + "…"


def expect_raise(
    expected: type[BaseException], description: str, call: Callable[[], object]
) -> BaseException:
    """Run ``call`` and return the ``expected`` exception it raised.

    When it returns instead, the check fails naming the call (``description``), what it
    returned and what it should have raised; any other exception propagates, so the run
    reports it with the learner's line.
    """
    __tracebackhide__ = True
    try:
        result = call()
    except expected as error:
        return error
    pytest.fail(
        f"{description} returned {result!r:.100} instead of raising {expected.__name__}",
        pytrace=False,
    )
