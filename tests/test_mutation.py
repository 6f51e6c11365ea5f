"""Fast unit tests of the mutant maker (:mod:`pytest_tutorial.verify.mutation`)."""

from __future__ import annotations

import ast
import difflib
from collections import Counter
from pathlib import Path

import pytest

from pytest_tutorial.verify.mutation import (
    LINE_BREAKS,
    OPERATORS,
    Mutant,
    all_mutants,
    find_mutants,
    mutate,
    round_trip,
    sample,
    solution_files,
    source_segment,
)

SOURCE = '''"""A module docstring with 1 < 2 inside."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    LIMIT_FOR_TYPES = 5

__all__ = ["Box", "total"]
Number: TypeAlias = int | float
RETRIES = 3


def total(values: list[int], start: int = 0) -> int:
    """Sum ``values`` from ``start``."""
    result = start
    for value in values:
        if value < 0 and value != -1:
            raise ValueError("negative")
        result += value
    return result


class Box:
    """Holds one thing."""

    def __init__(self, thing: object) -> None:
        self.thing = thing
        self.log = []

    def take(self) -> object:
        try:
            self.log.append("take")
        except AttributeError:
            return None
        return self.thing

    def ignored(self) -> bool:
        return True  # pragma: no mutate
'''


def by_line(mutants: list[Mutant]) -> dict[int, list[str]]:
    lines: dict[int, list[str]] = {}
    for mutant in mutants:
        change = f"{mutant.operator}: {mutant.original} -> {mutant.mutated}"
        lines.setdefault(mutant.line, []).append(change)
    return lines


def test_every_kind_of_mutation_is_made_where_it_should_be() -> None:
    mutants = find_mutants(SOURCE, "box.py")
    found = by_line(mutants)
    assert found[12] == ["constant: 3 -> 4"]
    assert found[15] == ["constant: 0 -> 1"]  # a default value
    assert sorted(found[19]) == sorted(
        [
            "comparison: value < 0 -> value >= 0",
            "constant: 0 -> 1",
            "comparison: value != -1 -> value == -1",
            "constant: 1 -> 2",
            "operator: value < 0 and value != -1 -> value < 0 or value != -1",
        ]
    )
    assert found[20] == ['raise: raise ValueError("negative") -> pass']
    assert found[21] == ["operator: result += value -> result -= value"]
    assert found[22] == ["return: return result -> return None"]
    assert found[34] == ['call: self.log.append("take") -> pass']
    assert found[35] == ["handler: except AttributeError: -> raise"]
    assert found[37] == ["return: return self.thing -> return None"]
    assert set(Counter(m.operator for m in mutants)) == set(OPERATORS)


def test_docstrings_annotations_guards_all_and_pragmas_are_left_alone() -> None:
    lines = set(by_line(find_mutants(SOURCE, "box.py")))
    assert not lines & {1, 7, 8, 10, 11, 16, 26, 36, 40}


def test_each_mutant_changes_only_its_own_site() -> None:
    original = round_trip(SOURCE)
    for mutant in find_mutants(SOURCE, "box.py"):
        mutated = mutate(SOURCE, mutant)
        compile(mutated, "box.py", "exec")
        assert mutated != original, mutant
        diff = difflib.ndiff(original.splitlines(), mutated.splitlines())
        added = [line for line in diff if line.startswith("+ ")]
        assert len(added) == 1, (mutant, added)


def test_the_baseline_is_the_same_program() -> None:
    assert ast.dump(ast.parse(round_trip(SOURCE))) == ast.dump(ast.parse(SOURCE))


def test_a_sample_is_deterministic_and_spread_over_the_file() -> None:
    mutants = find_mutants(SOURCE * 3, "box.py")
    picked = sample(mutants, 5)
    assert picked == sample(mutants, 5)
    assert len(picked) == 5
    lines = [mutant.line for mutant in picked]
    assert lines == sorted(lines)
    assert lines[-1] > len((SOURCE * 2).splitlines())  # reaches the last copy
    assert sample(mutants, None) == mutants
    assert sample(mutants, 0) == []


def test_solution_files_leave_out_tests_and_caches(tmp_path: Path) -> None:
    for name in ("app.py", "pkg/helpers.py", "tests/test_app.py", "conftest.py", ".venv/x.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("X = 1\n", encoding="utf-8")
    assert [p.relative_to(tmp_path).as_posix() for p in solution_files(tmp_path)] == [
        "app.py",
        "pkg/helpers.py",
    ]
    mutants = all_mutants(tmp_path)
    assert [(m.file, m.change) for m in mutants] == [
        ("app.py", "constant: `1` -> `2`"),
        ("pkg/helpers.py", "constant: `1` -> `2`"),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["caching", "batch_processor", "object_store", "rate_limiter"])
def test_bundled_references_have_mutants_that_compile(name: str) -> None:
    reference = Path(__file__).resolve().parent.parent / "reference_solutions" / name
    if not reference.is_dir():
        pytest.skip(f"no reference for {name}")
    mutants = all_mutants(reference)
    assert len(mutants) > 30
    assert {m.operator for m in mutants} >= {"comparison", "constant", "call", "return"}


SEGMENT_SOURCES = (
    "x = 1\r\ny = (1 +\r 2)\n\fz = 'é' + 'ü'\n",
    "def f(a, b):\n    return {\n        'k': a  # ü\n    }[b]\n",
)


@pytest.mark.parametrize("source", SEGMENT_SOURCES)
def test_mutants_quote_the_same_source_as_ast_does(source: str) -> None:
    lines = LINE_BREAKS.findall(source)
    for node in ast.walk(ast.parse(source)):
        assert source_segment(lines, node) == ast.get_source_segment(source, node)
