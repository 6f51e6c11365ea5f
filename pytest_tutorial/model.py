"""The typed model of a tutorial document: metadata, phases and steps, checklists, targets.

The parser (:mod:`pytest_tutorial.document`) builds it; everything else only reads it.
Every element keeps the line it came from, so an error or a hint can point into the file.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

VALIDATION_CHECKLIST = "Validation Checklist"
"""The checklist whose every item must be automated or explicitly manual."""


class ValidationMethod(enum.Enum):
    """How a tutorial is validated (the template's ``validation_method``)."""

    SELF_CHECK = "self_check"
    AUTOMATED = "automated"
    PEER_REVIEW = "peer_review"


class Difficulty(enum.Enum):
    """The template's difficulty levels."""

    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"
    EXPERT = "expert"


@dataclass(frozen=True)
class Step:
    """One ``#### Step N: Title`` of a phase: what a hint tells the learner to reread."""

    number: int
    title: str
    line: int
    phase: str

    def reference(self) -> str:
        """Human-readable pointer, e.g. ``Phase 2: Advanced Features > Step 4: Caching``."""
        return f"{self.phase} > Step {self.number}: {self.title}"


@dataclass(frozen=True)
class Phase:
    """One ``### Phase N: Title`` of the core implementation."""

    number: int
    title: str
    line: int
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class ChecklistItem:
    """One ``- [ ] text`` line of a checklist, with its stable id.

    ``manual`` is True for items a person judges (marked ``<!-- id: x, manual -->`` in a
    Validation Checklist, or any item of another checklist that no check covers).
    """

    id: str
    text: str
    section: str
    line: int
    explicit_manual: bool


@dataclass(frozen=True)
class SolutionContract:
    """Where the learner's code lives in the solution folder and what it must export."""

    module: str
    exports: tuple[str, ...]


@dataclass(frozen=True)
class PerformanceTarget:
    """The load test a tutorial promises (template: 100 requests, 10 concurrent).

    The rule (:func:`pytest_tutorial.performance.rule_sentence` says it in words): a p95
    above ``p95_ms`` (the ceiling) fails whatever else was measured; at or below
    ``p95_floor_ms`` it passes (latency that cannot matter for the exercise); in between,
    ``relative_p95`` decides: at most that many times the reference solution's p95,
    measured in the same run. Without a reference solution the ceiling decides alone.
    """

    requests: int = 100
    concurrency: int = 10
    warmup: int = 10
    p95_ms: float | None = None
    """The ceiling: a p95 above it fails, whatever the reference measured."""
    relative_p95: float | None = None
    p95_floor_ms: float | None = None
    """A p95 at or below it passes: latency that cannot matter for this exercise."""
    rounds: int = 5
    """Interleaved rounds (learner, reference, learner, ...); the verdict uses their median."""
    max_error_rate: float = 0.0


@dataclass(frozen=True)
class KeyAttribute:
    """One attribute of a DynamoDB key schema: its name and type (``S``, ``N`` or ``B``)."""

    name: str
    type: str


@dataclass(frozen=True)
class DynamoTable:
    """A DynamoDB table the checks create: its name and key schema (sort key optional)."""

    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None


@dataclass(frozen=True)
class AwsResources:
    """The ``validation.aws`` block: the region and the resources each check starts with.

    The checks run against moto's ``mock_aws``; every resource here exists, empty, at the
    start of each check.
    """

    region: str = "us-east-1"
    s3_buckets: tuple[str, ...] = ()
    dynamodb_tables: tuple[DynamoTable, ...] = ()
    sqs_queues: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidationSpec:
    """The front matter's ``validation`` block of an automated tutorial."""

    solution: SolutionContract
    performance: PerformanceTarget = field(default_factory=PerformanceTarget)
    timeout_s: float | None = None
    aws: AwsResources | None = None
    """Declared for tutorials whose checks run against AWS (moto); None otherwise."""
    min_kill_rate: float | None = None
    """The share of reference mutants the checks must kill (``pytest-tutorial verify``)."""


@dataclass(frozen=True)
class Metadata:
    """The template's front matter fields that the harness reports or lists."""

    title: str
    summary: str
    difficulty: Difficulty
    estimated_time: str
    version: str
    status: str
    validation_method: ValidationMethod
    tags: tuple[str, ...]
    extra: dict[str, object]
    """Every other front matter field, kept as parsed."""


@dataclass(frozen=True)
class Tutorial:
    """A parsed tutorial document."""

    id: str
    path: Path
    metadata: Metadata
    validation: ValidationSpec | None
    phases: tuple[Phase, ...]
    checklist: tuple[ChecklistItem, ...]
    front_matter_lines: dict[str, int]
    """Line of each top-level front matter key, for errors that name a field."""

    def item(self, item_id: str) -> ChecklistItem | None:
        """The checklist item with this id, or None."""
        return next((item for item in self.checklist if item.id == item_id), None)

    def step(self, number: int) -> Step | None:
        """The step with this number, or None."""
        for phase in self.phases:
            for step in phase.steps:
                if step.number == number:
                    return step
        return None

    @property
    def validation_items(self) -> tuple[ChecklistItem, ...]:
        """The items of the Validation Checklist, in document order."""
        return tuple(item for item in self.checklist if item.section == VALIDATION_CHECKLIST)
