"""Correct object_store designs that differ from the reference each pass every automated item.

A check that rejects one of them tests the reference's shape, not the contract. The designs,
under ``tests/alternatives/object_store/``:

- ``tenacity_records``: frozen dataclass records serialized by boto3's TypeSerializer and
  TypeDeserializer, tenacity running the retry policy, a conflict resolved by reading the
  item back after the condition fails, JSON cursors;
- ``pydantic_proxy``: pydantic validation in strict mode, every client wrapped in a retrying
  proxy, deduplication by listing the content key, pages that read one item ahead (hex
  cursors, never an empty last page);
- ``cached_digests``: a read before the write that answers repeats at once, the item
  created by a conditional UpdateItem, a bounded LRU (cachetools) of digests known to be
  stored, a backoff policy object, cursors that carry the whole key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import boto3  # noqa: F401  (loaded once here, not imported and dropped by every inner run)
import moto  # noqa: F401
import pytest

from tests.conftest import REPO, RunTutorial

pytestmark = pytest.mark.slow

ALTERNATIVES = sorted(
    path.name for path in (REPO / "tests" / "alternatives" / "object_store").iterdir()
)
AUTOMATED_ITEMS = {"core", "errors", "performance", "documentation", "tests", "integration"}


def test_there_are_at_least_three_designs() -> None:
    assert len(ALTERNATIVES) >= 3, ALTERNATIVES


@pytest.mark.parametrize("design", ALTERNATIVES)
def test_alternative_passes_every_automated_item(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], design: str
) -> None:
    copy_solution("reference_solutions", "object_store")  # the performance item compares
    folder = copy_solution("tests/alternatives/object_store", design)
    run = run_tutorial("object_store", solution=folder)
    statuses = run.automated_statuses()
    failing = {
        check["id"].rsplit("::", 1)[-1]: check["message"]
        for item in run.report["checklist"]
        for check in item["checks"]
        if check["status"] != "passed"
    }
    assert set(statuses) == AUTOMATED_ITEMS
    assert set(statuses.values()) == {"passed"}, failing
    assert run.report["verdict"] == "validated"
