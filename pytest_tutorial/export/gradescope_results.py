"""Gradescope's ``results.json`` as the exported autograder writes it.

``grade`` already writes each submission's ``results.json`` in Gradescope's format (a test
per check, scored by its points, output cut with a notice). The autograder takes that file
and applies the export's choices: each test's visibility (hidden checklist items), checks
whose messages are hidden, and notes about the grading itself in the top-level output.
When grading could not give a result at all, :func:`failure` is what the student sees:
score 0 and a message that says what happened and what to do.
"""

from __future__ import annotations

from typing import Any

from pytest_tutorial.grading.outputs import truncate

from .gradescope_settings import Settings, Visibility

HIDDEN_MESSAGE = "(the details of this check are hidden by your instructor)"


def shape(results: dict[str, Any], settings: Settings, notes: list[str]) -> dict[str, Any]:
    """``results`` (grade's Gradescope file) with the export's visibility and notes."""
    shaped = dict(results)
    extra = dict(shaped.get("extra_data") or {})
    if "max_score" in shaped:  # not a top-level field of Gradescope's format
        extra["max_score"] = shaped.pop("max_score")
    extra["tutorial"] = settings.tutorial
    extra["pytest_tutorial"] = settings.package_version
    shaped["extra_data"] = extra
    tests = []
    for test in results.get("tests", []):
        test = dict(test)
        tags = test.get("tags") or [""]
        visibility = settings.visibility_of(str(tags[0]))
        test["visibility"] = visibility.value
        if settings.hide_messages and visibility is not Visibility.VISIBLE:
            first_line = str(test.get("output", "")).split("\n", 1)[0]
            test["output"] = f"{first_line}\n{HIDDEN_MESSAGE}"
        tests.append(test)
    shaped["tests"] = tests
    if notes:
        text = "\n".join(f"note: {note}" for note in notes)
        shaped["output"] = truncate(f"{text}\n{results.get('output', '')}".rstrip("\n"))
    shaped["visibility"] = Visibility.VISIBLE.value
    shaped.setdefault("stdout_visibility", Visibility.HIDDEN.value)
    return shaped


def failure(message: str, *, execution_time: float = 0.0) -> dict[str, Any]:
    """A result that scores 0 and says why, for when grading gave nothing to show."""
    return {
        "score": 0,
        "execution_time": round(execution_time, 3),
        "output": truncate(message),
        "visibility": Visibility.VISIBLE.value,
        "stdout_visibility": Visibility.HIDDEN.value,
        "tests": [],
    }
