"""The report's shape as types: ``schema/report.schema.json`` mirrored in TypedDicts.

One run's report is plain JSON (it is written to disk, streamed, and read back by
``watch``, ``grade`` and ``verify``), so its types are TypedDicts rather than classes:
every reader and writer is type-checked against the same shape, and the schema test keeps
the two in step (tests/test_report_model.py). :func:`read_report` is the one way to load a
report from a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, NotRequired, TypedDict, cast

StatusName = Literal["passed", "failed", "error", "timeout", "manual", "skipped"]
VerdictName = Literal["validated", "incomplete", "not_validated", "error"]
DecidedBy = Literal["relative", "absolute", "floor", "ceiling", "none"]
ValidationMethodName = Literal["self_check", "automated", "peer_review"]
SolutionKindName = Literal["learner", "reference", "path"]


class CheckEntry(TypedDict):
    """One check's result, under its checklist item."""

    id: str
    """The check's node id, e.g. ``caching/check_core.py::test_get_returns_value``."""
    name: str
    """The check's function name (the id's last part): what every view shows."""
    status: StatusName
    message: str
    hint: str
    hint_level: int
    hint_levels: int
    counterexample: str
    reproduce: str
    step: str | None
    points: int
    duration_s: float


class ItemEntry(TypedDict):
    """One checklist item and its checks."""

    id: str
    text: str
    section: str
    line: NotRequired[int]
    automated: bool
    status: StatusName
    points: int
    max_points: int
    checks: list[CheckEntry]


class Histogram(TypedDict):
    """Latencies in log-spaced buckets: ``len(edges_ms) == len(counts) + 1``."""

    edges_ms: list[float]
    counts: list[int]


class Round(TypedDict):
    """The p95 of one interleaved round, learner and reference."""

    learner_p95_ms: float | None
    reference_p95_ms: float | None


class LoadFigures(TypedDict):
    """What one measurement under concurrent load found (``LoadResult.summary()``)."""

    requests: int
    concurrency: int
    errors: int
    error_rate: float
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    throughput_rps: float | None
    wall_s: float
    error_samples: list[str]


class CheckIdentity(TypedDict):
    """Which check measured, and its checklist item."""

    check: str
    item: str


class LoadVerdict(TypedDict, total=False):
    """The target a load test was judged by, and the verdict (absent where only measured)."""

    target_p95_ms: float | None
    p95_floor_ms: float | None
    max_error_rate: float
    passed: bool
    decided_by: DecidedBy
    target: float | None
    ratio: float | None
    reference_p95_ms: float | None
    rounds: list[Round]
    histogram: Histogram
    reference_histogram: Histogram
    note: str


class LoadTestEntry(LoadFigures, CheckIdentity, LoadVerdict):
    """One load test of the report's ``performance`` list: figures, target and verdict."""

    name: NotRequired[str]


def load_test_entry(
    identity: CheckIdentity, name: str, figures: LoadFigures, verdict: LoadVerdict
) -> LoadTestEntry:
    """The entry of a check's load test: who measured, what it found, how it was judged."""
    return cast(LoadTestEntry, {**identity, "name": name, **figures, **verdict})


class TutorialBlock(TypedDict):
    """Which tutorial the run checked."""

    id: str
    title: str
    version: str
    validation_method: ValidationMethodName
    path: NotRequired[str]


class SolutionBlock(TypedDict):
    """Which solution the run checked."""

    path: str
    kind: SolutionKindName


class Score(TypedDict):
    """Points of the passed checks, out of all."""

    points: int
    max_points: int


class Usage(TypedDict, total=False):
    """What a graded submission's processes used."""

    peak_rss_mb: float
    cpu_s: float
    max_process_cpu_s: float
    processes: int


class GradingBlock(TypedDict):
    """Only in reports of ``pytest-tutorial grade``: how the contained run went."""

    submission: str
    source: str
    sandbox: str
    """``bubblewrap`` or ``rlimits`` (``grading.sandbox.SandboxKind``)."""
    isolation: NotRequired[str]
    """``process`` or ``worker``: where the submission's code ran."""
    outcome: str
    """How grading ended (``grading.results.OutcomeKind``)."""
    duration_s: float
    detail: NotRequired[str]
    exit_status: NotRequired[int | None]
    limits: NotRequired[dict[str, float]]
    output_bytes: NotRequired[int]
    output_truncated: NotRequired[bool]
    skipped_files: NotRequired[list[str]]
    warnings: NotRequired[list[str]]
    usage: NotRequired[Usage]
    signal: NotRequired[str | None]


class Report(TypedDict):
    """One run of a tutorial's checks against one solution."""

    schema_version: str
    tutorial: TutorialBlock
    solution: SolutionBlock
    verdict: VerdictName
    score: Score
    checklist: list[ItemEntry]
    performance: list[LoadTestEntry]
    problems: NotRequired[list[str]]
    started_at: NotRequired[str]
    duration_s: float
    versions: dict[str, str]
    grading: NotRequired[GradingBlock]


def checks_of(report: Report) -> list[tuple[ItemEntry, CheckEntry]]:
    """Every check of the report with its item, in document and collection order."""
    return [(item, check) for item in report["checklist"] for check in item["checks"]]


def read_report(path: Path) -> Report | None:
    """The report in ``path``, or None when it is missing, not JSON or not a report.

    Only the top-level shape is checked here (a report this package wrote); reports from
    an untrusted process are built again by the parent instead (see ``grading``).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("checklist"), list):
        return None
    if not str(data.get("schema_version", "")).startswith("1."):
        return None
    return cast(Report, data)
