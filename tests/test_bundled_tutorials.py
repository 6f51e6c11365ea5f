"""Every bundled tutorial tells the learner the exact rule its checks judge by."""

from __future__ import annotations

import pytest

from pytest_tutorial.discovery import TutorialSource, find_tutorials
from pytest_tutorial.document import parse_tutorial
from pytest_tutorial.performance import rule_sentence, states_the_rule

BUNDLED = sorted(find_tutorials().items())


@pytest.mark.parametrize(("name", "source"), BUNDLED, ids=[name for name, _ in BUNDLED])
def test_the_text_states_the_performance_rule_of_the_front_matter(
    name: str, source: TutorialSource
) -> None:
    tutorial = parse_tutorial(source.document, name)
    assert tutorial.validation is not None
    performance = tutorial.validation.performance
    text = source.document.read_text(encoding="utf-8")
    assert states_the_rule(text, performance), rule_sentence(performance)
    assert performance.p95_ms is not None, "a ceiling keeps a slow design from passing"
