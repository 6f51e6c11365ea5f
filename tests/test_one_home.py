"""Each rule has one home in the package: a grep over its source shows it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import pytest_tutorial

PACKAGE = Path(pytest_tutorial.__file__).parent
SOURCES = sorted(
    p for p in PACKAGE.rglob("*.py") if "tutorials" not in p.relative_to(PACKAGE).parts
)


def _homes(pattern: str) -> list[str]:
    found = re.compile(pattern)
    return sorted(
        str(path.relative_to(PACKAGE))
        for path in SOURCES
        if found.search(path.read_text(encoding="utf-8"))
    )


@pytest.mark.parametrize(
    ("pattern", "home"),
    [
        (r"get_closest_marker\((MARKER|.checklist.)", ["coverage.py"]),  # the checklist marker
        (r"has no check", ["coverage.py"]),  # the coverage rules
        (r"Status\.FAILED if .*call", ["check_status.py"]),  # an exception's status
        (r"not run \(deselected\)", ["check_status.py"]),
        (r"error while cleaning up", ["check_status.py"]),
        (r"^MESSAGE_LIMIT = ", ["failures.py"]),
        (r'"--stream-fd"', ["grading/protocol.py"]),  # the grading child's arguments
        (r"wall_s: float = ", ["grading/sandbox.py"]),  # grade's limit defaults
    ],
)
def test_a_rule_is_written_in_one_module(pattern: str, home: list[str]) -> None:
    assert _homes(f"(?m){pattern}") == home


def test_no_check_name_is_parsed_out_of_a_node_id() -> None:
    assert _homes(r"""(rsplit|rpartition|partition|split)\(["']::["']""") == []
