"""Constants and helpers shared by the object_store tutorial's checks."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from hypothesis import Phase

OWNER = "ada"
BASE_DELAY = 0.1
MAX_DELAY = 1.0
MAX_ATTEMPTS = 4
MAX_BYTES = 4096
"""The checks' ``max_bytes``: small, so an oversized body is cheap to build."""
QUICK_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)
"""Hypothesis phases of the AWS properties: every example costs several moto calls, so
the "explain" phase, which reruns a failure many times over, would take seconds."""


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


def backoff_problems(delays: list[float], retries: int) -> list[str]:
    """What is wrong with ``delays`` as the sleeps before ``retries`` retries.

    Retry ``n`` (from 1) waits between half and all of ``min(MAX_DELAY, BASE_DELAY * 2**(n-1))``.
    """
    if len(delays) != retries:
        return [f"slept {len(delays)} time(s) ({delays}) for {retries} retry(ies)"]
    problems = []
    for n, delay in enumerate(delays, start=1):
        cap = min(MAX_DELAY, BASE_DELAY * 2 ** (n - 1))
        if not cap / 2 <= delay <= cap:
            problems.append(f"retry {n} slept {delay!r} s, expected {cap / 2:g} to {cap:g} s")
    return problems
