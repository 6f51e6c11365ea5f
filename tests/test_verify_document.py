"""Fast tests of verify's document checks: template leftovers, and ``min_kill_rate``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tutorial.discovery import BUNDLED_ROOT
from pytest_tutorial.document import parse_text
from pytest_tutorial.scaffold.build import TEMPLATE
from pytest_tutorial.verify.placeholders import find_placeholders, template_tokens
from tests.mini_course import TUTORIAL


def test_the_template_is_all_placeholders_with_line_numbers() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    found = find_placeholders(text)
    lines = text.splitlines()
    for placeholder in found:
        if placeholder.text.startswith("["):
            assert placeholder.text.split("](")[0].rstrip("]") + "]" in lines[
                placeholder.line - 1
            ] or (placeholder.text in lines[placeholder.line - 1])
    texts = {placeholder.text for placeholder in found}
    assert {"[Skill/Technology]", "[MainClass]", "[primary_method]", "[placeholder]"} <= texts
    assert "[specific functionality]" in texts
    assert '"author_name"' in texts
    assert "[Next Tutorial](next-tutorial.md)" in texts
    assert "Template Usage Instructions" in texts
    assert {"[ ]", "[dict]", "[x]"}.isdisjoint(texts)
    assert "dict" not in template_tokens()


@pytest.mark.parametrize(
    "folder", sorted(p.name for p in BUNDLED_ROOT.iterdir() if (p / "tutorial.md").is_file())
)
def test_bundled_tutorials_have_no_placeholder_left(folder: str) -> None:
    assert (
        find_placeholders((BUNDLED_ROOT / folder / "tutorial.md").read_text(encoding="utf-8")) == []
    )


def test_code_links_checkboxes_and_prose_are_told_apart() -> None:
    text = """---
title: "[Skill/Technology] tutorial"
tags: [hands-on, redis]
contributors: ["author_name"]
---
# Real title

A [real link](https://example.org) and a [reference link][ref] and [^1].
- [ ] a checkbox
- [x] a ticked one
Some `items[0]` inline code and an [unfilled part] in prose.

```python
values = [item for item in items]
first = values[0]
class [MainClass]:
    pass
```
"""
    found = [(p.line, p.text) for p in find_placeholders(text)]
    assert found == [
        (2, "[Skill/Technology]"),
        (4, '"author_name"'),
        (11, "[unfilled part]"),
        (16, "[MainClass]"),
    ]


FRONT_MATTER = TUTORIAL.replace("{extra}", "\n  min_kill_rate: {value}")


def test_min_kill_rate_is_read_from_the_validation_block() -> None:
    tutorial = parse_text(FRONT_MATTER.format(value="0.8"), Path("mini/tutorial.md"), "mini")
    assert tutorial.validation is not None
    assert tutorial.validation.min_kill_rate == 0.8
    default = parse_text(TUTORIAL.replace("{extra}", ""), Path("mini/tutorial.md"), "mini")
    assert default.validation is not None
    assert default.validation.min_kill_rate is None


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("1.5", "min_kill_rate must be a fraction between 0 and 1, got 1.5"),
        ("high", "validation.min_kill_rate must be a number"),
        ("0", "validation.min_kill_rate must be positive"),
    ],
)
def test_a_bad_min_kill_rate_names_file_and_line(value: str, fragment: str) -> None:
    text = FRONT_MATTER.format(value=value)
    line = text.splitlines().index(f"  min_kill_rate: {value}") + 1
    with pytest.raises(pytest.UsageError) as caught:
        parse_text(text, Path("mini/tutorial.md"), "mini")
    assert str(caught.value).startswith(f"mini/tutorial.md:{line}: ")
    assert fragment in str(caught.value)
