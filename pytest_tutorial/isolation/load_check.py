"""A load test of the learner's code in its worker, its figures checked from outside.

The worker times each call itself (the channel's tenth of a millisecond would drown a
cached read), but the worker runs the learner's code, which can patch its clock. So the
trusted side times the whole test from outside and believes the figures only as far as that
time allows:

- more latency than time: no thread's calls can add up to more than the test took, and no
  call can be longer (a clock patched to make the reference, or anyone, look slow);
- much less latency than time: the test took ``T`` seen from here; the harness' own cost for
  a test of that shape is ``O`` (the same test of calls that do nothing, timed the same way,
  in a worker that runs no learner code when there is one: the reference's); the calls must
  account for the rest within a factor of :data:`DEFLATION_FACTOR`: ``T <= 2 x O + 3 x (sum
  of all latencies) + 50 ms``. On a machine where threads share one interpreter lock the sum of
  all latencies is at least the time the calls held it, so honest code stays well inside.

Figures that do not fit are measured again, newly recorded (:mod:`.replay`); a mismatch in
each of three measurements is reported as tampering and fails the check: a stall of a busy
machine (CI saw one of 115 ms) passes by the next measurement, a patched clock does not.
What remains possible is bounded: latencies shrunk by less than the factor, or a
submission that answers without doing the work (the check's own assertions on the calls'
effects must catch that).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_tutorial.isolation import protocol
from pytest_tutorial.isolation.handles import Handle, _Method
from pytest_tutorial.isolation.remote import Worker
from pytest_tutorial.isolation.worker_load import NOOP
from pytest_tutorial.load import ERROR_SAMPLES, LoadResult

DEFLATION_FACTOR = 3.0
OVERHEAD_FACTOR = 2.0
SLACK_S = 0.050
"""Allowed beyond the comparison: scheduling hiccups on a busy machine, which must never
cost an honest learner the item. It bounds what can be hidden: shrinking tens of
milliseconds of work into microseconds is caught, a millisecond here and there is not."""


class Tampered(AssertionError):
    """Latencies the worker reported do not fit the time the trusted side observed."""


@dataclass(frozen=True)
class Target:
    """What a load test calls: a handle of a worker and, for a method, its name."""

    worker: Worker
    handle: int
    name: str | None
    coroutine: bool

    @classmethod
    def of(cls, function: object) -> Target:
        """The target for a learner's method or callable object held by the trusted side."""
        if isinstance(function, _Method):
            handle = function._handle
            return cls(handle._worker, handle._id, function._name, function._coroutine)
        if isinstance(function, Handle):
            return cls(function._worker, function._id, None, function._coroutine)
        raise TypeError(f"{function!r} is not a function of the learner's code in a worker")

    def noop(self) -> Target:
        """The same shape of test, of calls that do nothing."""
        return Target(self.worker, self.handle, NOOP, self.coroutine)


@dataclass(frozen=True)
class Observed:
    """A load test's figures as the worker reported them, and its time seen from here."""

    result: LoadResult
    outside_s: float


def measure(
    target: Target,
    calls: Sequence[tuple[Sequence[Any], dict[str, Any]]],
    *,
    requests: int,
    concurrency: int,
    warmup: int,
) -> Observed:
    """Run the load test in the target's worker; its figures, checked for form only."""
    encoded = target.worker.codec.encode([[list(args), kwargs] for args, kwargs in calls])
    started = time.perf_counter()
    answer = target.worker.request(
        protocol.LOAD,
        target=target.handle,
        name=target.name,
        calls=encoded,
        requests=requests,
        concurrency=concurrency,
        warmup=warmup,
        coroutine=target.coroutine,
    )
    outside = time.perf_counter() - started
    return Observed(_result(answer, requests, concurrency), outside)


def check(observed: Observed, overhead: Observed) -> None:
    """Raise :class:`Tampered` when ``observed`` does not fit its outside time (see above)."""
    result, outside = observed.result, observed.outside_s
    longest = max(result.latencies_ns, default=0) / 1e9
    busiest = max((sum(samples) for samples in result.per_worker_ns), default=0) / 1e9
    if longest > outside or busiest > outside + SLACK_S:
        raise Tampered(
            f"the worker reported {busiest * 1000:.3f} ms of calls in one thread during a test "
            f"that took {outside * 1000:.3f} ms: its clock was tampered with"
        )
    total = sum(result.latencies_ns) / 1e9
    allowed = OVERHEAD_FACTOR * overhead.outside_s + DEFLATION_FACTOR * total + SLACK_S
    if outside > allowed and result.errors == 0:
        raise Tampered(
            f"the test took {outside * 1000:.1f} ms seen from outside, but the worker reported "
            f"only {total * 1000:.3f} ms of calls (the harness alone takes "
            f"{overhead.outside_s * 1000:.1f} ms): its clock was tampered with"
        )


def _result(answer: object, requests: int, concurrency: int) -> LoadResult:
    """The figures of a well-formed answer, or :class:`Tampered`."""
    if not isinstance(answer, dict):
        raise Tampered("the worker answered a load test with something that is not its figures")
    groups, errors = answer.get("per_worker_ns"), answer.get("errors")
    samples, wall = answer.get("error_samples"), answer.get("wall_s")
    if (
        not isinstance(groups, list)
        or not all(isinstance(group, list) for group in groups)
        or not all(type(value) is int and value >= 0 for group in groups for value in group)
        or type(errors) is not int
        or not isinstance(samples, list)
        or not isinstance(wall, int | float)
        or sum(len(group) for group in groups) + errors != requests
    ):
        raise Tampered(f"the figures of a load test of {requests} requests do not add up")
    latencies = sorted(value for group in groups for value in group)
    return LoadResult(
        requests=requests,
        concurrency=concurrency,
        latencies_ns=tuple(latencies),
        errors=errors,
        wall_s=max(float(wall), 0.0),
        error_samples=tuple(str(text)[:300] for text in samples)[:ERROR_SAMPLES],
        per_worker_ns=tuple(tuple(group) for group in groups),
    )
