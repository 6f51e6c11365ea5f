"""Checks of "Performance meets requirements": p95 of metadata reads under concurrent load."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from pytest_tutorial.fixtures.aws import AwsMock
from pytest_tutorial.fixtures.core import LoadRunner
from pytest_tutorial.solution import Solution
from pytest_tutorial.tutorials.object_store.support import OWNER, item, metadata

DOCUMENTS = 20
READ_OPERATIONS = ("GetItem", "Query", "BatchGetItem")


@pytest.mark.checklist(
    "performance",
    points=3,
    step=2,
    timeout=60,
    hint="a metadata read is one consistent GetItem on (owner, name): no Scan, no S3 call, "
    "no sleep, and no lock held around the call",
)
def test_p95_of_metadata_reads_under_concurrent_load(
    store_factory: Callable[..., Any], aws: AwsMock, load_runner: LoadRunner
) -> None:
    names = [f"reports/{n:03d}.pdf" for n in range(DOCUMENTS)]
    for name in names:
        meta = metadata(name, name.encode(), content_type="application/pdf")
        aws.inspector("dynamodb").put_item(TableName=aws.table, Item=item(meta))
    learner_reads = itertools.count()
    built: list[Any] = []

    def metadata_reads(implementation: Solution) -> Callable[[], object]:
        """A store of ``implementation`` and a request reading one document's metadata.

        The learner's store is built first, on the recorded clients.
        """
        store = store_factory(implementation, recorded=not built)
        store.get(OWNER, names[0])  # a read that fails fails the check here, with its error
        cycle = itertools.cycle(names)
        if not built:
            built.append(store)
            return lambda: (next(learner_reads), store.get(OWNER, next(cycle)))
        built.append(store)
        return lambda: store.get(OWNER, next(cycle))

    load_runner.judge(metadata_reads, name="metadata reads")
    reads = next(learner_reads) + 1  # with the first read above
    calls = aws.call_counts()
    other = {call: n for call, n in calls.items() if call.split(".")[1] not in READ_OPERATIONS}
    assert not other, f"{reads} metadata reads also called {other}"
    assert sum(calls.values()) <= reads, (
        f"{reads} metadata reads made {sum(calls.values())} DynamoDB calls; one each at most"
    )
