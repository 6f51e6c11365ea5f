"""Instruments the batch_processor checks own: a recording handler, a fake sleep, a guard.

Checks read what happened from these objects, never from what the learner's code says
happened: which items the handler saw and how often, how many calls overlapped, which
delays the processor slept, which calls were cancelled.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from pytest_tutorial import as_plain_json

DEFAULTS: dict[str, Any] = {
    "chunk_size": 10,
    "max_concurrency": 4,
    "max_attempts": 3,
    "base_delay": 0.1,
    "max_delay": 2.0,
    "item_timeout": 5.0,
}
"""The processor settings of the checks (each check overrides what it tests)."""

GUARD_S = 3.0
"""How long a check waits for process() before it calls it stuck."""


def item_id(item: Any) -> Any:
    """The id the checks give an item: ``item["id"]`` for a record, else the item itself."""
    return item["id"] if isinstance(item, dict) else item


def records(count: int) -> list[dict[str, Any]]:
    """``count`` distinct input records, as a batch job would receive them."""
    return [{"id": n, "payload": f"record-{n}"} for n in range(count)]


def plain_results(result: Any) -> list[Any]:
    """``result.to_dict()["results"]`` as plain values; fails the check on anything else."""
    __tracebackhide__ = True
    data = as_plain_json(result.to_dict(), what="process(...).to_dict()")
    assert isinstance(data, dict), f"to_dict() should be a dict, got {str(data)[:200]}"
    assert isinstance(data.get("results"), list), (
        f"to_dict() should have a 'results' list, got {str(data)[:200]}"
    )
    entries: list[Any] = data["results"]
    assert all(isinstance(entry, dict) for entry in entries), (
        f"each of to_dict()['results'] should be a dict, got {str(entries)[:200]}"
    )
    return entries


def expected_value(item: Any) -> dict[str, Any]:
    """What :class:`RecordingHandler` returns for ``item`` when the call succeeds."""
    return {"id": item_id(item), "processed": True}


class RecordingHandler:
    """An async handler that records every call and can fail, stall, hold or hang on demand.

    ``yields(item_id)`` is how many times a call gives way to the loop before answering,
    so calls finish out of input order. With ``gather_s`` a call first waits until no call
    has started for that long, so calls that overlap finish in the order their yields give
    even when they reach the loop spread out in time (a worker's calls come over its
    channel one by one, and on a busy machine one may be answered before the next
    arrives). ``failures[item_id]`` lists the exceptions that item's successive calls
    raise before it succeeds; items in ``hang`` never answer. With
    ``hold=True`` every call waits until the check releases it (:meth:`release_all`), so
    the check decides how long calls last instead of the number of loop turns.
    """

    def __init__(
        self,
        *,
        yields: Callable[[Any], int] = lambda key: 1,
        gather_s: float = 0.0,
        failures: dict[Any, list[BaseException]] | None = None,
        hang: Iterable[Any] = (),
        hold: bool = False,
    ) -> None:
        self.yields = yields
        self.gather_s = gather_s
        self._last_start = 0.0
        self.failures = {key: list(errors) for key, errors in (failures or {}).items()}
        self.hang = set(hang)
        self.hold = hold
        self._held: list[asyncio.Event] = []
        self.calls: list[Any] = []
        self.events: list[tuple[str, Any]] = []
        self.cancelled: list[Any] = []
        self.in_flight = 0
        self.peak = 0
        self.started = asyncio.Event()

    async def __call__(self, item: Any) -> Any:
        key = item_id(item)
        self.calls.append(key)
        self.events.append(("start", key))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.started.set()
        loop = asyncio.get_running_loop()
        self._last_start = loop.time()
        try:
            while (quiet := self._last_start + self.gather_s - loop.time()) > 0:
                await asyncio.sleep(quiet)
            for _ in range(max(1, self.yields(key))):
                await asyncio.sleep(0)
            if key in self.hang:
                await asyncio.Event().wait()
            if self.hold:
                release = asyncio.Event()
                self._held.append(release)
                await release.wait()
            planned = self.failures.get(key)
            if planned:
                raise planned.pop(0)
            return expected_value(item)
        except asyncio.CancelledError:
            self.cancelled.append(key)
            raise
        finally:
            self.in_flight -= 1
            self.events.append(("end", key))

    def release_all(self, *, stop_holding: bool = False) -> int:
        """Let every held call answer; with ``stop_holding`` later calls answer at once too."""
        released = len(self._held)
        for release in self._held:
            release.set()
        self._held.clear()
        if stop_holding:
            self.hold = False
        return released

    def release_first(self) -> None:
        """Let the longest-held call answer; the others stay held."""
        self._held.pop(0).set()

    async def wait_for_held(
        self, task: asyncio.Task[Any], *, within: float = GUARD_S, what: str = "process()"
    ) -> None:
        """Return once a call waits for its answer; fail if ``task`` ends first or the
        deadline passes (``what`` names the call in the failure message)."""
        __tracebackhide__ = True
        await _wait_while_running(
            lambda: bool(self._held),
            task,
            within,
            what,
            ended="while the check held its calls open",
            late=lambda: (
                f"no handler call was waiting for its answer ({len(self.calls)} had "
                "started, all answered)"
            ),
        )

    def call_counts(self) -> dict[Any, int]:
        """How many times the handler was called for each item id."""
        return dict(Counter(self.calls))

    async def wait_for_calls(
        self,
        count: int,
        task: asyncio.Task[Any],
        *,
        started: int = 0,
        within: float = GUARD_S,
        what: str = "process()",
        why: str = "",
    ) -> None:
        """Return once ``count`` calls are in flight (and ``started`` calls were made in all);
        fail if ``task`` ends first or the deadline passes.

        The deadline is generous on purpose: a correct limiter may take a few loop turns to
        start each call; only one that does not get there in time fails. ``what`` names the
        call in the failure message, ``why`` is added to it (what the check expected).
        """
        __tracebackhide__ = True
        expected = f"{count} at once" + (f" and {started} started" if started else "")
        await _wait_while_running(
            lambda: self.in_flight >= count and len(self.calls) >= started,
            task,
            within,
            what,
            ended=f"before {count} handler calls were running at once",
            late=lambda: (
                f"{self.in_flight} handler call(s) were running at once and "
                f"{len(self.calls)} had started, expected {expected}{why}"
            ),
        )


async def _wait_while_running(
    ready: Callable[[], bool],
    task: asyncio.Task[Any],
    within: float,
    call: str,
    *,
    ended: str,
    late: Callable[[], str],
) -> None:
    """Poll ``ready`` every millisecond; fail if ``task`` ends first (the failure says how
    it ``ended``) or ``within`` seconds pass (``late()`` says what was seen)."""
    __tracebackhide__ = True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not ready():
        if task.done():
            error = None if task.cancelled() else task.exception()
            if error is not None:
                fail_if_not_written(error, call)
            how = f"raised {type(error).__name__}: {error}" if error else "returned"
            pytest.fail(f"{call} {how} {ended}", pytrace=False)
        if loop.time() > deadline:
            pytest.fail(f"{call}: after {within:g} s {late()}", pytrace=False)
        await asyncio.sleep(0.001)


def fail_if_not_written(error: BaseException, call: str) -> None:
    """Fail with the stub's own words when ``error`` is a starter's NotImplementedError.

    A check that catches the learner's exceptions to judge them would otherwise describe a
    stub as a wrong behaviour ("raised ... because one item failed"); the stub's message
    names the method and the tutorial step to write.
    """
    __tracebackhide__ = True
    if isinstance(error, NotImplementedError):
        pytest.fail(f"{call} raised NotImplementedError: {error}", pytrace=False)


class FakeSleep:
    """An injectable ``sleep`` that records each delay and returns without waiting."""

    def __init__(self) -> None:
        self.delays: list[Any] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


class FakeRandom:
    """An injectable ``random`` returning the given values in turn (cycling)."""

    def __init__(self, *values: float) -> None:
        self._values = itertools.cycle(values or (0.5,))
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return next(self._values)


@asynccontextmanager
async def guard(what: str, seconds: float = GUARD_S) -> AsyncIterator[None]:
    """Fail the check, with a message naming ``what``, if the block runs past ``seconds``.

    The block is cancelled at the limit, so a stuck ``process()`` is cleaned up inside the
    check instead of running into the check's own time limit. A block that swallowed that
    cancellation fails the check too.
    """
    __tracebackhide__ = True
    scope = asyncio.timeout(seconds)
    try:
        async with scope:
            yield
    except TimeoutError:
        if not scope.expired():
            raise
    if scope.expired():
        pytest.fail(f"{what} did not finish within {seconds:g} s", pytrace=False)


def leftover_tasks() -> list[asyncio.Task[Any]]:
    """Tasks of the running loop that are still pending, apart from the check's own."""
    current = asyncio.current_task()
    return [task for task in asyncio.all_tasks() if task is not current and not task.done()]


async def cancel_leftovers() -> None:
    """Cancel what the learner's code left running, so the check ends with a clean loop."""
    tasks = leftover_tasks()
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=1.0)
