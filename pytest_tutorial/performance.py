"""Performance verdicts that hold on a noisy machine, in both directions.

An absolute p95 target in milliseconds flips from pass to fail when a shared CI machine is
busy. A relative target does not: the learner's implementation and the reference solution
are measured in the same run, interleaved over several rounds (learner then reference,
reference then learner, ...), so drift and the order of measurement hit both alike; the
verdict is the median of the rounds' p95 ratios against ``relative_p95``.

A ratio alone is wrong both ways: a correct design a little slower than a very fast
reference fails although its latency cannot matter, and a slow one passes when the
reference happened to be slow too. So the rule has two absolute bounds around it: at or
below ``p95_floor_ms`` a p95 passes, above ``p95_ms`` (the ceiling) it fails, whatever
the reference measured. Where no reference solution is available the ceiling decides
alone, and the outcome says so. :func:`rule_sentence` states the rule in words; each
tutorial's text must contain that sentence, so the learner reads the rule they are judged by.

The floor also saves the reference's half of the work: while every round of the learner's
is at or below it, the median is too, and it passes whatever the reference measures. So
:func:`compare` builds and measures the reference only from the first round over the floor
(the rounds before it are measured for the reference then); a fast learner's report has
no reference figures. In worker mode (:func:`compare_measured`) the reference is always
measured: its worker times the harness the learner's figures are checked against.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import math
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from pytest_tutorial.histogram import histogram
from pytest_tutorial.load import LoadResult, run_load, run_load_async
from pytest_tutorial.model import PerformanceTarget
from pytest_tutorial.report_model import (
    CheckIdentity,
    LoadTestEntry,
    LoadVerdict,
    load_test_entry,
)

Call = Callable[[], object]
AsyncCall = Callable[[], Awaitable[object]]
T = TypeVar("T")


class TargetKind(enum.Enum):
    """Which bound decided a performance verdict."""

    RELATIVE = "relative"
    """The ratio to the reference's p95 (between the floor and the ceiling)."""
    ABSOLUTE = "absolute"
    """The ceiling alone, for want of a reference solution."""
    FLOOR = "floor"
    """Passed: at or below the floor, where latency cannot matter."""
    CEILING = "ceiling"
    """Failed: above the ceiling, whatever the reference measured."""
    NONE = "none"


@dataclass(frozen=True)
class Sizes:
    """How one load test is run (front matter values, possibly overridden by the check)."""

    requests: int
    concurrency: int
    warmup: int
    rounds: int


@dataclass(frozen=True)
class Outcome:
    """A performance verdict with everything that went into it."""

    name: str
    learner_rounds: tuple[LoadResult, ...]
    reference_rounds: tuple[LoadResult, ...]
    relative_p95: float | None
    """The ratio bound when the reference was measured; None otherwise."""
    floor_ms: float | None
    ceiling_ms: float | None
    max_error_rate: float
    note: str = ""

    @property
    def decided_by(self) -> TargetKind:
        """The bound that decided (see the module docstring for the order)."""
        p95 = self.learner_p95_ms
        if self.ceiling_ms is not None and not p95 <= self.ceiling_ms:
            return TargetKind.CEILING
        if self.floor_ms is not None and p95 <= self.floor_ms:
            return TargetKind.FLOOR
        if self.relative_p95 is not None and self.reference_rounds:
            return TargetKind.RELATIVE
        if self.ceiling_ms is not None:
            return TargetKind.ABSOLUTE
        return TargetKind.NONE

    @property
    def target(self) -> float | None:
        """The deciding bound: a ratio (relative) or a p95 in ms (the others)."""
        decided = self.decided_by
        if decided is TargetKind.RELATIVE:
            return self.relative_p95
        if decided is TargetKind.FLOOR:
            return self.floor_ms
        if decided in (TargetKind.CEILING, TargetKind.ABSOLUTE):
            return self.ceiling_ms
        return None

    @property
    def learner(self) -> LoadResult:
        """The learner's rounds pooled into one result."""
        return pool(self.learner_rounds)

    @property
    def reference(self) -> LoadResult | None:
        """The reference's rounds pooled, or None when there was no reference."""
        return pool(self.reference_rounds) if self.reference_rounds else None

    @property
    def learner_p95_ms(self) -> float:
        """Median over rounds of the learner's p95."""
        return statistics.median(result.p95_ms for result in self.learner_rounds)

    @property
    def reference_p95_ms(self) -> float | None:
        """Median over rounds of the reference's p95."""
        if not self.reference_rounds:
            return None
        return statistics.median(result.p95_ms for result in self.reference_rounds)

    @property
    def ratio(self) -> float | None:
        """Median over rounds of learner p95 / reference p95."""
        if not self.reference_rounds:
            return None
        pairs = zip(self.learner_rounds, self.reference_rounds, strict=True)
        return statistics.median(mine.p95_ms / max(ref.p95_ms, 1e-9) for mine, ref in pairs)

    @property
    def error_rate(self) -> float:
        """The learner's failed requests over all rounds."""
        return self.learner.error_rate

    def problems(self) -> list[str]:
        """Why the verdict is a failure; empty when it passed."""
        if self.error_rate > self.max_error_rate:
            first = self.learner.error_samples[:1]
            sample = f" (first: {first[0]})" if first else ""
            return [
                f"{self.learner.errors} of {self.learner.requests} requests failed, allowed "
                f"{self.max_error_rate:.0%}{sample}"
            ]
        decided = self.decided_by
        p95 = self.learner_p95_ms
        if decided is TargetKind.CEILING:
            return [f"p95 {p95:.4f} ms is over the {self.ceiling_ms:g} ms ceiling"]
        if decided is TargetKind.RELATIVE:
            ratio = self.ratio
            if ratio is None or not ratio <= (self.relative_p95 or 0):
                floor = f" and over the {self.floor_ms:g} ms floor" if self.floor_ms else ""
                return [
                    f"p95 {p95:.4f} ms is {ratio or 0:.2f}x the reference's "
                    f"{self.reference_p95_ms or 0:.4f} ms, allowed {self.relative_p95:g}x"
                    f"{floor}"
                ]
        return []

    @property
    def passed(self) -> bool:
        """True when the learner met the deciding target and the error bound."""
        return not self.problems()

    def describe(self) -> str:
        """One line of figures, for failure messages and the terminal."""
        text = f"p95 {self.learner_p95_ms:.4f} ms"
        if self.reference_p95_ms is not None:
            text += f", reference {self.reference_p95_ms:.4f} ms, ratio {self.ratio:.2f}x"
        text += f" ({self.target_text()}; {len(self.learner_rounds)} round(s) of "
        text += f"{self.learner_rounds[0].requests} requests at concurrency "
        text += f"{self.learner_rounds[0].concurrency})"
        return text

    def target_text(self) -> str:
        """The deciding bound in words."""
        decided = self.decided_by
        if decided is TargetKind.RELATIVE:
            return f"target <= {self.target:g}x reference, relative decided"
        if decided is TargetKind.ABSOLUTE:
            return f"target <= {self.target:g} ms, absolute decided"
        if decided is TargetKind.FLOOR:
            return f"at or below the {self.target:g} ms floor, floor decided"
        if decided is TargetKind.CEILING:
            return f"over the {self.target:g} ms ceiling, ceiling decided"
        return "no target"

    def summary(self, identity: CheckIdentity) -> LoadTestEntry:
        """Plain values for the report's ``performance`` list."""
        learner = self.learner
        verdict: LoadVerdict = {
            "decided_by": self.decided_by.value,
            "target": self.target,
            "ratio": _rounded(self.ratio),
            "reference_p95_ms": _rounded(self.reference_p95_ms),
            "rounds": [
                {
                    "learner_p95_ms": _rounded(mine.p95_ms),
                    "reference_p95_ms": _rounded(ref.p95_ms) if ref else None,
                }
                for mine, ref in itertools.zip_longest(self.learner_rounds, self.reference_rounds)
            ],
            "max_error_rate": self.max_error_rate,
            "histogram": histogram(learner.latencies_ns).as_dict(),
            "passed": self.passed,
            "note": self.note,
        }
        reference = self.reference
        if reference is not None:
            verdict["reference_histogram"] = histogram(reference.latencies_ns).as_dict()
        figures = learner.summary()
        figures["p95_ms"] = _rounded(self.learner_p95_ms)  # the median of the rounds' p95
        return load_test_entry(identity, self.name, figures, verdict)


def _rounded(value: float | None) -> float | None:
    """A figure for the report: JSON has no infinity (every request failed) or NaN."""
    return round(value, 6) if value is not None and math.isfinite(value) else None


def pool(results: tuple[LoadResult, ...]) -> LoadResult:
    """Several rounds as one result (all latencies, summed errors and wall time)."""
    return LoadResult(
        requests=sum(result.requests for result in results),
        concurrency=results[0].concurrency,
        latencies_ns=tuple(sorted(itertools.chain.from_iterable(r.latencies_ns for r in results))),
        errors=sum(result.errors for result in results),
        wall_s=sum(result.wall_s for result in results),
        error_samples=tuple(
            dict.fromkeys(itertools.chain.from_iterable(result.error_samples for result in results))
        )[:5],
    )


def plan(target: PerformanceTarget, has_reference: bool) -> tuple[bool, str]:
    """Whether the reference is measured (the relative bound can decide), and a note.

    The note says when the tutorial declares a relative bound that cannot decide for want
    of a reference.
    """
    if target.relative_p95 is not None and has_reference:
        return True, ""
    if target.relative_p95 is not None and target.p95_ms is not None:
        return False, "no reference solution was available, so the ceiling decided alone"
    if target.p95_ms is None and target.p95_floor_ms is None:
        return False, "the tutorial declares no p95 target"
    return False, ""


def states_the_rule(text: str, target: PerformanceTarget) -> bool:
    """Whether a tutorial's text contains :func:`rule_sentence` (line breaks aside)."""
    return " ".join(rule_sentence(target).split()) in " ".join(text.split())


def rule_sentence(target: PerformanceTarget) -> str:
    """The performance rule in one sentence, for the tutorial's text (verify checks it is there).

    ``Your p95 passes when it is at most 2x the reference solution's p95 measured in the
    same run, or at most 0.1 ms; it fails above 5 ms whatever the reference measured.``
    """
    passes: list[str] = []
    if target.relative_p95 is not None:
        passes.append(
            f"at most {target.relative_p95:g}x the reference solution's p95 measured in the "
            "same run"
        )
    if target.p95_floor_ms is not None:
        passes.append(f"at most {target.p95_floor_ms:g} ms")
    if target.relative_p95 is None and target.p95_ms is not None:
        passes.append(f"at most {target.p95_ms:g} ms")
    if not passes:
        return "Your p95 is measured and reported but not judged."
    sentence = f"Your p95 passes when it is {', or '.join(passes)}"
    if target.p95_ms is not None and target.relative_p95 is not None:
        sentence += (
            f"; it fails above {target.p95_ms:g} ms whatever the reference measured. Without "
            f"a reference solution to compare with, the {target.p95_ms:g} ms ceiling decides alone"
        )
    return sentence + "."


def compare(
    name: str,
    learner: Call,
    build_reference: Callable[[], Call] | None,
    sizes: Sizes,
    target: PerformanceTarget,
    *,
    reference_note: str = "",
) -> Outcome:
    """Measure ``learner`` and judge it against ``target``.

    The reference's call, made by ``build_reference``, is measured once it can decide
    (:func:`_needs_reference`), interleaved with the learner's rounds; the rounds it missed
    until then are measured as it joins, so every round has both sides.
    """
    relative, note = _decide(target, build_reference is not None, reference_note)
    wanted = build_reference if relative else None
    load = {"requests": sizes.requests, "concurrency": sizes.concurrency}
    reference = wanted() if wanted is not None and _needs_reference([], target) else None
    for side in (learner, reference):
        if side is not None:
            _warm(side, sizes.warmup)
    rounds: list[list[LoadResult]] = []
    for index in range(sizes.rounds):
        sides = [learner] if reference is None else [learner, reference]
        measured = {id(side): run_load(side, **load) for side in _order(sides, index)}
        rounds.append([measured[id(side)] for side in sides])
        if wanted is not None and reference is None and _needs_reference(rounds, target):
            reference = wanted()
            _warm(reference, sizes.warmup)
            for missed in rounds:
                missed.append(run_load(reference, **load))
    return _outcome(name, rounds, target, note)


async def compare_async(
    name: str,
    learner: AsyncCall,
    build_reference: Callable[[], AsyncCall] | None,
    sizes: Sizes,
    target: PerformanceTarget,
    *,
    reference_note: str = "",
) -> Outcome:
    """:func:`compare` for coroutine functions, driven by concurrent tasks."""
    relative, note = _decide(target, build_reference is not None, reference_note)
    wanted = build_reference if relative else None
    load = {"requests": sizes.requests, "concurrency": sizes.concurrency}
    reference = wanted() if wanted is not None and _needs_reference([], target) else None
    # The sides warm up at once: nothing of a warm-up is measured, and a call that waits
    # (a batch of 40 ms calls) waits once instead of once per side.
    sides = [side for side in (learner, reference) if side is not None]
    await asyncio.gather(*(_warm_async(side, sizes.warmup) for side in sides))
    rounds: list[list[LoadResult]] = []
    for index in range(sizes.rounds):
        sides = [learner] if reference is None else [learner, reference]
        measured = {}
        for side in _order(sides, index):
            measured[id(side)] = await run_load_async(side, **load)
        rounds.append([measured[id(side)] for side in sides])
        if wanted is not None and reference is None and _needs_reference(rounds, target):
            reference = wanted()
            await _warm_async(reference, sizes.warmup)
            for missed in rounds:
                missed.append(await run_load_async(reference, **load))
    return _outcome(name, rounds, target, note)


def _needs_reference(rounds: list[list[LoadResult]], target: PerformanceTarget) -> bool:
    """Whether the reference can decide, given the learner's rounds measured so far.

    Without a floor it always can. With one, not while every round's p95 is at or below
    it: however the rest goes, a median under the floor passes whatever the reference
    measures (and a median over it needs the reference, measured from the first round over).
    """
    floor = target.p95_floor_ms
    return floor is None or any(not results[0].p95_ms <= floor for results in rounds)


Measure = Callable[[int, int, int], LoadResult]
"""Runs one side's load test elsewhere (a worker): ``measure(requests, concurrency, warmup)``."""
AsyncMeasure = Callable[[int, int, int], Awaitable[LoadResult]]


def compare_measured(
    name: str,
    learner: Measure,
    reference: Measure | None,
    sizes: Sizes,
    target: PerformanceTarget,
    *,
    reference_note: str = "",
) -> Outcome:
    """:func:`compare` for sides that measure themselves; each warms up in its first round."""
    relative, note = _decide(target, reference is not None, reference_note)
    sides = [learner] + ([reference] if reference and relative else [])
    rounds = []
    for index in range(sizes.rounds):
        warmup = sizes.warmup if index == 0 else 0
        measured = {
            id(side): side(sizes.requests, sizes.concurrency, warmup)
            for side in _order(sides, index)
        }
        rounds.append([measured[id(side)] for side in sides])
    return _outcome(name, rounds, target, note)


async def compare_measured_async(
    name: str,
    learner: AsyncMeasure,
    reference: AsyncMeasure | None,
    sizes: Sizes,
    target: PerformanceTarget,
    *,
    reference_note: str = "",
) -> Outcome:
    """:func:`compare_measured` for sides measured by coroutines."""
    relative, note = _decide(target, reference is not None, reference_note)
    sides = [learner] + ([reference] if reference and relative else [])
    rounds = []
    for index in range(sizes.rounds):
        warmup = sizes.warmup if index == 0 else 0
        measured = {}
        for side in _order(sides, index):
            measured[id(side)] = await side(sizes.requests, sizes.concurrency, warmup)
        rounds.append([measured[id(side)] for side in sides])
    return _outcome(name, rounds, target, note)


def _order(sides: list[T], round_index: int) -> list[T]:
    """Who goes first alternates by round (L R, R L, L R, ...).

    So going first or second, in a warmer or a colder process, favours neither side.
    """
    return sides if round_index % 2 == 0 else sides[::-1]


def _decide(
    target: PerformanceTarget, has_reference: bool, reference_note: str
) -> tuple[bool, str]:
    """:func:`plan`, with why the reference is missing as the note when it could not decide."""
    relative, note = plan(target, has_reference)
    return relative, "" if relative else reference_note or note


def _outcome(
    name: str, rounds: list[list[LoadResult]], target: PerformanceTarget, note: str
) -> Outcome:
    """Each round holds the learner's result, then the reference's when it was measured."""
    mine = tuple(results[0] for results in rounds)
    theirs = tuple(results[1] for results in rounds if len(results) > 1)
    return Outcome(
        name,
        mine,
        theirs,
        relative_p95=target.relative_p95 if theirs else None,
        floor_ms=target.p95_floor_ms,
        ceiling_ms=target.p95_ms,
        max_error_rate=target.max_error_rate,
        note=note,
    )


def _warm(call: Call, times: int) -> None:
    for _ in range(times):
        try:
            call()
        except Exception:
            continue  # warm-up errors are counted by the measured rounds


async def _warm_async(call: AsyncCall, times: int) -> None:
    for _ in range(times):
        try:
            await call()
        except Exception:
            continue
