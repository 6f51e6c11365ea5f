"""The ``mini`` course: a tiny tutorial made for the project's tests.

It has one function (``clamp``) and two automated items, so a whole verify (probe,
reference, starter, every mutant) takes seconds. Its reference holds a constant no check
reads: that mutant must survive. The verify, watch, start, progress, packs and docs tests
build on it.
"""

from __future__ import annotations

from pathlib import Path

TUTORIAL = """---
title: "Mini clamp"
summary: "A tiny tutorial for the project's tests"
difficulty: "beginner"
estimated_time: "5 min"
version: "1.0"
validation_method: "automated"
validation:
  solution:
    module: "mini"
    exports: ["clamp"]
  timeout_s: 10{extra}
---

# Mini clamp

### Phase 1: Foundation (5 minutes)

#### Step 1: Write clamp

Write `clamp(value, low, high)`: `value` limited to the range, `ValueError` when `low > high`.

### Validation Checklist
- [ ] clamp keeps values in range <!-- id: core -->
- [ ] clamp rejects a bad range <!-- id: errors -->
- [ ] The code reads well <!-- id: review, manual -->
"""
CHECKS = '''"""Checks of the mini tutorial."""

from __future__ import annotations

import pytest

from pytest_tutorial.solution import Solution


@pytest.mark.checklist("core", points=2, step=1, hint="return low below the range, high above")
def test_clamps(solution: Solution) -> None:
    assert solution.clamp(5, 0, 10) == 5, "clamp(5, 0, 10) should be 5"
    assert solution.clamp(-1, 0, 10) == 0, "clamp(-1, 0, 10) should be 0"
    assert solution.clamp(11, 0, 10) == 10, "clamp(11, 0, 10) should be 10"


@pytest.mark.checklist("errors", step=1, hint="raise ValueError when low > high")
def test_bad_range(solution: Solution) -> None:
    with pytest.raises(ValueError):
        solution.clamp(1, 5, 0)
'''
REFERENCE = '''"""Clamp numbers into a range."""

LIMIT = 1000  # read by no check: its mutant survives


def clamp(value: float, low: float, high: float) -> float:
    """Return ``value`` limited to ``[low, high]``; ValueError when ``low > high``."""
    if low > high:
        raise ValueError("low > high")
    if value < low:
        return low
    if value > high:
        return high
    return value
'''
STARTER = '''"""Clamp numbers into a range (write it)."""


def clamp(value: float, low: float, high: float) -> float:
    """Return ``value`` limited to ``[low, high]``."""
    raise NotImplementedError("clamp is not implemented yet: see Step 1")
'''
INI = "[pytest]\ntutorial_paths = tutorials\nasyncio_default_fixture_loop_scope = function\n"


def make_course(root: Path, *, extra_front_matter: str = "") -> Path:
    """A course folder holding the mini tutorial, its reference and its starter."""
    tutorial = root / "tutorials" / "mini"
    tutorial.mkdir(parents=True)
    (tutorial / "tutorial.md").write_text(
        TUTORIAL.format(extra=extra_front_matter), encoding="utf-8"
    )
    (tutorial / "check_mini.py").write_text(CHECKS, encoding="utf-8")
    for folder, source in (("reference_solutions", REFERENCE), ("exercises", STARTER)):
        (root / folder / "mini").mkdir(parents=True)
        (root / folder / "mini" / "mini.py").write_text(source, encoding="utf-8")
    (root / "pytest.ini").write_text(INI, encoding="utf-8")
    return root
