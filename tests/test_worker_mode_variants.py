"""Every buggy variant of the bundled tutorials gets the same verdict in worker mode.

The variant tables of ``tests/test_*_variants.py`` are reused as they are: each variant is
the reference with one small edit, run here with ``--tutorial-isolation=worker``, and must
fail the same checklist item (with the same status) that its process-mode test asserts.

Each run is limited to the one check of that item the process-mode table names, which the
variant's process-mode run must show failed (a run of the item's checks, but for the
object_store variants and the rate_limiter ones that wait, which run that check alone
there too): that check alone fails the item, and the item's other checks (a property of
60 examples across the channel, a load test) would only add time to a test that judges
one item. A variant whose
calls wait (rejected as failed or timeout) runs with a short time limit per check: its
first calls already fail the item, and its properties would wait out the tutorial's 30 s
limit each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_tutorial.options import ISOLATION, TIMEOUT
from tests import (
    test_batch_processor_variants,
    test_caching_variants,
    test_object_store_variants,
    test_rate_limiter_variants,
)
from tests.conftest import RunTutorial, apply_edits

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Case:
    """One variant of one tutorial, as its process-mode test runs and judges it."""

    tutorial: str
    module: str
    name: str
    edits: tuple[tuple[str, str], ...]
    failing_item: str
    rejected_as: tuple[str, ...]
    check: str
    """The check the run is limited to (``-k``)."""

    @property
    def id(self) -> str:
        return f"{self.tutorial}-{self.name}"


CASES = [
    *(
        Case(
            "caching",
            "cache_service.py",
            v.name,
            v.edits,
            v.failing_item,
            ("failed",),
            v.check,
        )
        for v in test_caching_variants.VARIANTS
    ),
    *(
        Case(
            "batch_processor",
            "batch_processor.py",
            v.name,
            v.edits,
            v.failing_item,
            v.rejected_as,
            v.check,
        )
        for v in test_batch_processor_variants.VARIANTS
    ),
    *(
        Case(
            "object_store",
            "document_store.py",
            v.name,
            v.edits,
            v.failing_item,
            ("failed",),
            v.check,
        )
        for v in test_object_store_variants.VARIANTS
    ),
    *(
        Case(
            "rate_limiter",
            "rate_limiter.py",
            v.name,
            v.edits,
            v.failing_item,
            ("failed",),
            v.check,
        )
        for v in test_rate_limiter_variants.VARIANTS
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_variant_is_rejected_on_the_same_item_in_worker_mode(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], case: Case
) -> None:
    copy_solution("reference_solutions", case.tutorial)  # the relative performance target's
    folder = copy_solution("reference_solutions", case.tutorial, to=f"variants/{case.name}")
    apply_edits(folder / case.module, case.edits, case.name)
    options = [f"{ISOLATION}=worker", "-k", case.check]
    if "timeout" in case.rejected_as:
        options.append(f"{TIMEOUT}={test_batch_processor_variants.WAITING_TIMEOUT_S}")
    run = run_tutorial(case.tutorial, *options, solution=folder)
    assert run.checks_run() == [case.check]
    assert run.report["verdict"] == "not_validated"
    assert run.status(case.failing_item) in case.rejected_as, run.automated_statuses()
