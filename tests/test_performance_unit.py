"""Performance verdicts: which target decides, interleaving, ratios, histograms."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import pytest

from pytest_tutorial.histogram import histogram
from pytest_tutorial.load import LoadResult
from pytest_tutorial.model import PerformanceTarget
from pytest_tutorial.performance import (
    Outcome,
    Sizes,
    TargetKind,
    compare,
    compare_async,
    plan,
    rule_sentence,
)
from pytest_tutorial.report_model import CheckIdentity

SIZES = Sizes(requests=20, concurrency=2, warmup=2, rounds=3)

IDENTITY: CheckIdentity = {"check": "demo/check_performance.py::test_p95", "item": "performance"}


def spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def built(call: Callable[[], object]) -> Callable[[], Callable[[], object]]:
    """What compare() takes for the reference: a function that makes its call."""
    return lambda: call


@pytest.mark.parametrize(
    ("target", "has_reference", "relative"),
    [
        (PerformanceTarget(p95_ms=5, relative_p95=2), True, True),
        (PerformanceTarget(p95_ms=5, relative_p95=2), False, False),
        (PerformanceTarget(p95_ms=5), True, False),
        (PerformanceTarget(relative_p95=2), False, False),
    ],
)
def test_plan_measures_the_reference_only_when_the_ratio_can_decide(
    target: PerformanceTarget, has_reference: bool, relative: bool
) -> None:
    measured, note = plan(target, has_reference)
    assert measured is relative
    if target.relative_p95 and not has_reference:
        assert note


def _round(latency_ms: float) -> LoadResult:
    return LoadResult(20, 2, (int(latency_ms * 1e6),) * 20, 0, 0.01)


def _outcome(learner_ms: float, reference_ms: float | None, target: PerformanceTarget) -> Outcome:
    reference = (_round(reference_ms),) if reference_ms is not None else ()
    return Outcome(
        "x",
        (_round(learner_ms),),
        reference,
        relative_p95=target.relative_p95 if reference else None,
        floor_ms=target.p95_floor_ms,
        ceiling_ms=target.p95_ms,
        max_error_rate=0.0,
    )


RULE = PerformanceTarget(p95_ms=5, relative_p95=2, p95_floor_ms=0.05)


@pytest.mark.parametrize(
    ("learner_ms", "reference_ms", "decided_by", "passed"),
    [
        (0.021, 0.007, TargetKind.FLOOR, True),  # 3x a very fast reference: cannot matter
        (0.125, 0.05, TargetKind.RELATIVE, False),  # 2.5x the floor and 2.5x the reference
        (0.09, 0.05, TargetKind.RELATIVE, True),
        (6.0, 4.0, TargetKind.CEILING, False),  # within 2x of a slow reference, still too slow
        (1.0, None, TargetKind.ABSOLUTE, True),
        (6.0, None, TargetKind.CEILING, False),
    ],
)
def test_the_floor_and_the_ceiling_bound_the_ratio(
    learner_ms: float, reference_ms: float | None, decided_by: TargetKind, passed: bool
) -> None:
    outcome = _outcome(learner_ms, reference_ms, RULE)
    assert outcome.decided_by is decided_by
    assert outcome.passed is passed, outcome.problems()
    assert outcome.summary(IDENTITY)["decided_by"] == decided_by.value


def test_the_rule_sentence_says_every_bound() -> None:
    assert rule_sentence(RULE) == (
        "Your p95 passes when it is at most 2x the reference solution's p95 measured in the "
        "same run, or at most 0.05 ms; it fails above 5 ms whatever the reference measured. "
        "Without a reference solution to compare with, the 5 ms ceiling decides alone."
    )
    assert (
        rule_sentence(PerformanceTarget(p95_ms=30)) == "Your p95 passes when it is at most 30 ms."
    )


def test_learner_and_reference_are_measured_interleaved() -> None:
    order: list[str] = []
    compare(
        "x",
        lambda: order.append("L"),
        built(lambda: order.append("R")),
        Sizes(requests=2, concurrency=1, warmup=0, rounds=3),
        PerformanceTarget(relative_p95=2),
    )
    assert "".join(order) == "LLRRRRLLLLRR"  # who goes first alternates by round


FLOORED = PerformanceTarget(relative_p95=2, p95_floor_ms=1.0)


def test_a_learner_at_or_below_the_floor_in_every_round_is_never_compared() -> None:
    made: list[str] = []

    def make_reference() -> Callable[[], object]:
        made.append("reference")
        return lambda: None

    outcome = compare("x", lambda: None, make_reference, SIZES, FLOORED)
    assert made == []  # not even built: the floor passes the learner whatever it measures
    assert outcome.decided_by is TargetKind.FLOOR
    assert outcome.passed
    summary = outcome.summary(IDENTITY)
    assert summary["reference_p95_ms"] is None
    assert [row["reference_p95_ms"] for row in summary["rounds"]] == [None] * SIZES.rounds


def test_the_reference_joins_at_the_first_round_over_the_floor_and_makes_up_the_rest() -> None:
    order: list[str] = []
    calls = iter(range(10**6))

    def learner() -> None:  # fast in the first round, 3 ms a call from the second on
        order.append("L")
        if next(calls) >= 2:
            time.sleep(0.003)

    outcome = compare(
        "x",
        learner,
        built(lambda: order.append("R")),
        Sizes(requests=2, concurrency=1, warmup=0, rounds=3),
        FLOORED,
    )
    # rounds 1 and 2 of the learner, the reference's two rounds missed, then L R again
    assert "".join(order) == "LLLLRRRRLLRR"
    assert len(outcome.reference_rounds) == 3
    assert outcome.decided_by is TargetKind.RELATIVE
    assert not outcome.passed  # 3 ms against a reference that does nothing


def test_coroutines_under_the_floor_are_never_compared_either() -> None:
    made: list[str] = []

    async def fast() -> None:
        await asyncio.sleep(0)

    def make_reference() -> Callable[[], Awaitable[None]]:
        made.append("reference")
        return fast

    outcome = asyncio.run(compare_async("x", fast, make_reference, SIZES, FLOORED))
    assert made == []
    assert outcome.decided_by is TargetKind.FLOOR
    assert outcome.reference_p95_ms is None


def test_coroutines_over_the_floor_are_compared_in_every_round() -> None:
    async def slow() -> None:
        await asyncio.sleep(0.003)

    async def fast() -> None:
        await asyncio.sleep(0)

    outcome = asyncio.run(compare_async("x", slow, lambda: fast, SIZES, FLOORED))
    assert len(outcome.reference_rounds) == SIZES.rounds
    assert outcome.decided_by is TargetKind.RELATIVE
    assert not outcome.passed


def test_a_three_times_slower_learner_fails_the_relative_target() -> None:
    outcome = compare(
        "x",
        lambda: spin(0.0003),
        built(lambda: spin(0.0001)),
        SIZES,
        PerformanceTarget(relative_p95=2),
    )
    assert outcome.decided_by is TargetKind.RELATIVE
    assert outcome.ratio is not None
    assert outcome.ratio > 2
    assert not outcome.passed
    assert "the reference's" in outcome.problems()[0]


def test_the_same_code_passes_the_relative_target() -> None:
    outcome = compare(
        "x",
        lambda: spin(0.0001),
        built(lambda: spin(0.0001)),
        SIZES,
        PerformanceTarget(relative_p95=2),
    )
    assert outcome.passed, outcome.describe()
    summary = outcome.summary(IDENTITY)
    assert summary["decided_by"] == "relative"
    assert len(summary["rounds"]) == 3
    assert sum(summary["histogram"]["counts"]) == 60


def test_without_a_reference_the_absolute_target_decides_and_says_so() -> None:
    outcome = compare(
        "x",
        lambda: None,
        None,
        SIZES,
        PerformanceTarget(p95_ms=50, relative_p95=2),
        reference_note="no reference solution at /x",
    )
    assert outcome.decided_by is TargetKind.ABSOLUTE
    assert outcome.passed
    assert outcome.note == "no reference solution at /x"
    assert outcome.summary(IDENTITY)["reference_p95_ms"] is None


def test_errors_above_the_bound_fail_whatever_the_latency() -> None:
    calls = iter(range(10**6))

    def flaky() -> None:
        if next(calls) % 10 == 0:
            raise TimeoutError("slow backend")

    outcome = compare("x", flaky, None, SIZES, PerformanceTarget(p95_ms=50, max_error_rate=0.05))
    assert not outcome.passed
    assert "requests failed" in outcome.problems()[0]
    assert "TimeoutError" in outcome.problems()[0]


def test_histogram_buckets_every_latency() -> None:
    values = [1_000, 2_000, 2_500, 40_000, 1_000_000]
    picture = histogram(values, buckets=8)
    assert sum(picture.counts) == len(values)
    assert len(picture.edges_ms) == 9
    assert picture.edges_ms[0] == pytest.approx(0.001)
    assert picture.edges_ms[-1] == pytest.approx(1.0)
    line = picture.sparkline()
    assert len(line) == 8
    assert line[0] != " "
    assert line[-1] != " "
    assert picture.sparkline(ascii_only=True).isascii()
    assert histogram([]).counts == ()


def test_a_load_test_where_every_request_failed_still_reports() -> None:
    def down() -> None:
        raise ConnectionError("refused")

    outcome = compare("x", down, built(down), SIZES, PerformanceTarget(p95_ms=5, relative_p95=2))
    assert not outcome.passed
    summary = outcome.summary(IDENTITY)
    assert summary["p95_ms"] is None
    assert summary["ratio"] is None
    json.dumps(summary, allow_nan=False)  # the report writer refuses NaN and infinity
