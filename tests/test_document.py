"""Fast unit tests of the tutorial document parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tutorial.discovery import BUNDLED_ROOT
from pytest_tutorial.document import parse_text, parse_tutorial
from pytest_tutorial.model import VALIDATION_CHECKLIST, Difficulty, Tutorial, ValidationMethod

FRONT = """---
title: "Demo"
summary: "A demo"
difficulty: "beginner"
estimated_time: "30 min"
version: "1.0"
validation_method: "automated"
validation:
  solution:
    module: "demo"
    exports: ["Demo"]
  performance:
    p95_ms: 2
---
"""
BODY = """
# Demo

### Phase 1: Foundation (15 minutes)

#### Step 1: Create Base Structure

```python
# - [ ] not a checklist item, and
### Phase 9: not a phase either
```

#### Step 2: Core Logic

### Phase 2: More

#### Step 3: Scale

### Validation Checklist
- [ ] All core functionality works correctly <!-- id: core -->
- [ ] Code is well-documented <!-- id: docs, manual -->

#### Knowledge Check
- [ ] Can explain the design
- [ ] Can explain the design
"""


def parse(text: str) -> Tutorial:
    return parse_text(text, Path("demo/tutorial.md"), "demo")


def test_parses_metadata_phases_steps_and_checklists() -> None:
    tutorial = parse_text(FRONT + BODY, Path("demo/tutorial.md"), "demo")
    assert tutorial.metadata.difficulty is Difficulty.BEGINNER
    assert tutorial.metadata.validation_method is ValidationMethod.AUTOMATED
    assert tutorial.validation is not None
    assert tutorial.validation.solution.exports == ("Demo",)
    assert tutorial.validation.performance.p95_ms == 2.0
    assert tutorial.validation.performance.requests == 100
    assert [phase.title for phase in tutorial.phases] == ["Foundation", "More"]
    assert [step.number for step in tutorial.phases[0].steps] == [1, 2]
    step = tutorial.step(3)
    assert step is not None
    assert step.reference() == "Phase 2: More > Step 3: Scale"
    ids = [item.id for item in tutorial.checklist]
    assert ids == ["core", "docs", "can-explain-the-design", "can-explain-the-design-2"]
    docs = tutorial.item("docs")
    assert docs is not None
    assert docs.explicit_manual
    assert docs.section == VALIDATION_CHECKLIST
    core = tutorial.item("core")
    assert core is not None
    expected_line = BODY.splitlines().index(
        "- [ ] All core functionality works correctly <!-- id: core -->"
    )
    assert core.line == FRONT.count("\n") + expected_line + 1


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (("---\ntitle", "title"), ["no front matter", ":1:"]),
        (('difficulty: "beginner"', 'difficulty: "cosmic"'), ["difficulty 'cosmic'", ":4:"]),
        (('version: "1.0"\n', ""), ["'version' is missing"]),
        (("    p95_ms: 2", "    p95_ms: fast"), ["p95_ms must be a number", ":13:"]),
        (
            ("    p95_ms: 2", "    p99_ms: 2"),
            ["unknown field 'validation.performance.p99_ms'", "p95_ms"],
        ),
        (('module: "demo"', 'module: "not a module"'), ["not a Python module name", ":10:"]),
        (('title: "Demo"', "title: [unclosed"), ["not valid YAML"]),
        (("<!-- id: core -->", "<!-- id: Core! -->"), ["checklist id 'Core!' is not valid"]),
        (("<!-- id: docs, manual -->", "<!-- id: core -->"), ["'core' is used twice"]),
        (("<!-- id: core -->", "<!-- identity -->"), ["cannot read the checklist comment"]),
        (("#### Step 3: Scale", "#### Step 2: Scale"), ["Step 2 appears twice"]),
        (("```\n\n#### Step 2", "\n\n#### Step 2"), ["never closed"]),
    ],
)
def test_mistakes_are_usage_errors_with_file_and_line(
    edit: tuple[str, str], fragments: list[str]
) -> None:
    text = FRONT + BODY
    assert edit[0] in text
    with pytest.raises(pytest.UsageError) as caught:
        parse(text.replace(edit[0], edit[1], 1))
    message = str(caught.value)
    assert message.startswith("demo/tutorial.md:")
    for fragment in fragments:
        assert fragment in message


def test_a_self_checked_tutorial_needs_no_validation_block() -> None:
    text = FRONT.replace('"automated"', '"self_check"').split("validation:\n")[0] + "---\n" + BODY
    tutorial = parse_text(text, Path("x.md"), "x")
    assert tutorial.validation is None
    assert tutorial.metadata.validation_method is ValidationMethod.SELF_CHECK


def test_automated_tutorial_without_validation_block_is_an_error() -> None:
    text = FRONT.split("validation:\n")[0] + "---\n" + BODY
    with pytest.raises(pytest.UsageError, match="needs a 'validation' block"):
        parse(text)


def test_bundled_tutorials_parse_with_every_validation_item_identified() -> None:
    for folder in BUNDLED_ROOT.iterdir():
        if not (folder / "tutorial.md").is_file():
            continue
        tutorial = parse_tutorial(folder / "tutorial.md")
        assert tutorial.validation is not None
        assert len(tutorial.validation_items) == 6
        assert all(not item.id.startswith("all-") for item in tutorial.validation_items)
        assert tutorial.phases


def test_a_document_is_parsed_once_per_text_and_a_mistake_is_raised_each_time(
    tmp_path: Path,
) -> None:
    """A warm server's forks find the warm-up's parse; an edit is read, and so is a fix."""
    document = tmp_path / "demo" / "tutorial.md"
    document.parent.mkdir()
    document.write_text(FRONT + BODY, encoding="utf-8")
    first = parse_tutorial(document)
    assert parse_tutorial(document) is first
    document.write_text(FRONT + BODY.replace("# Demo", "# Demo, edited"), encoding="utf-8")
    edited = parse_tutorial(document)
    assert edited is not first
    document.write_text(FRONT.replace('title: "Demo"', "title: [Demo"), encoding="utf-8")
    for _ in range(2):
        with pytest.raises(pytest.UsageError, match="not valid YAML"):
            parse_tutorial(document)
    document.write_text(FRONT + BODY, encoding="utf-8")
    assert parse_tutorial(document) is first
