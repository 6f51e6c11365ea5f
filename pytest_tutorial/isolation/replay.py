"""A check's load-test request, recorded on the trusted side and replayed in the worker.

A performance check builds its request as a function of the learner's objects
(``lambda: service.get_or_compute(next(keys), compute)``). Called from here, each request
would cross the channel (a tenth of a millisecond, more than a cached read takes), so in
worker mode the request is not run but recorded: the function is called once per request
the test will make (warm-up included), with the handles taking each call instead of
sending it. Each request must be exactly one call of the learner's code; its arguments
(computed here, in order, so ``next(keys)`` cycles as it would in one process) are
replayed in the worker by :func:`.load_check.measure`, which times the calls there, and
:func:`.load_check.check` holds the figures against the time observed from here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from pytest_tutorial.isolation.codec import CodecError
from pytest_tutorial.isolation.handles import RECORDING, Handle
from pytest_tutorial.isolation.load_check import Observed, Tampered, Target, check, measure
from pytest_tutorial.load import LoadResult

Calls = list[tuple[tuple[Any, ...], dict[str, Any]]]
ATTEMPTS = 3
"""How many times a load test is measured before figures that do not fit the time seen from
outside count as tampering (see :mod:`.load_check`)."""


@contextlib.contextmanager
def _recording() -> Iterator[list[tuple[Handle, str | None, tuple[Any, ...], dict[str, Any]]]]:
    calls: list[tuple[Handle, str | None, tuple[Any, ...], dict[str, Any]]] = []
    previous = getattr(RECORDING, "calls", None)
    RECORDING.calls = calls
    try:
        yield calls
    finally:
        RECORDING.calls = previous


def record(request: Callable[[], object], count: int) -> tuple[Target, Calls]:
    """Call ``request`` ``count`` times, recording the one call of the learner's code each makes."""
    with _recording() as recorded:
        for made in range(count):
            before = len(recorded)
            request()
            if len(recorded) != before + 1:
                raise TypeError(
                    f"in worker mode each request of a load test must make exactly one call of "
                    f"the learner's code; request {made + 1} made {len(recorded) - before}"
                )
    handle, name, _, _ = recorded[0]
    if any(other is not handle or called != name for other, called, _, _ in recorded):
        raise TypeError(
            "in worker mode every request of a load test must call the same function of the "
            "learner's code (with any arguments)"
        )
    coroutine = handle._coroutine if name is None else name in handle._coroutines
    target = Target(handle._worker, handle._id, name, coroutine)
    return target, [(args, kwargs) for _, _, args, kwargs in recorded]


class ReplayedSide:
    """One side of a comparison (the learner's or the reference's) measured in its worker.

    ``harness`` is the side whose worker times the harness alone (calls that do nothing):
    the reference's when there is one, so the learner's code cannot slow that yardstick.
    """

    def __init__(self, request: Callable[[], object], harness: ReplayedSide | None = None) -> None:
        self.request = request
        self.harness = harness or self
        self.target: Target | None = None

    def measure(self, requests: int, concurrency: int, warmup: int) -> LoadResult:
        """Record the requests, run them in the worker and check the figures (or Tampered).

        Figures that do not fit the time seen from here are measured again, newly recorded,
        up to :data:`ATTEMPTS` times in all: a stall of the busy machine passes, a patched
        clock does not.
        """
        sizes = {"requests": requests, "concurrency": concurrency, "warmup": warmup}
        for attempt in range(1, ATTEMPTS + 1):
            target, calls = record(self.request, warmup + requests)
            self.target = target
            overhead = self._overhead(target, calls, sizes)
            observed = measure(target, calls, **sizes)
            if _fits(observed, overhead, last=attempt == ATTEMPTS):
                break
        return observed.result

    async def ameasure(self, requests: int, concurrency: int, warmup: int) -> LoadResult:
        """:meth:`measure` from a coroutine: the loop stays free for the check's callbacks."""
        sizes = {"requests": requests, "concurrency": concurrency, "warmup": warmup}
        for attempt in range(1, ATTEMPTS + 1):
            target, calls = record(self.request, warmup + requests)
            self.target = target
            try:
                overhead = await asyncio.to_thread(self._overhead, target, calls, sizes)
                observed = await asyncio.to_thread(measure, target, calls, **sizes)
            except BaseException as error:
                if not isinstance(error, Exception):  # cancelled at the time limit: stuck there
                    target.worker.stop(f"the worker was stopped during a load test ({error!r})")
                raise
            if _fits(observed, overhead, last=attempt == ATTEMPTS):
                break
        return observed.result

    def _overhead(self, target: Target, calls: Calls, sizes: dict[str, int]) -> Observed:
        harness = self.harness.target if self.harness is not self else None
        if harness is not None and harness.worker is not target.worker:
            with contextlib.suppress(CodecError):  # an argument only the learner's worker knows
                return measure(harness.noop(), calls, **sizes)
        return measure(target.noop(), calls, **sizes)


def _fits(observed: Observed, overhead: Observed, *, last: bool) -> bool:
    """Whether the figures fit the time seen from here; on the last attempt, Tampered if not."""
    try:
        check(observed, overhead)
    except Tampered:
        if last:
            raise
        return False
    return True
