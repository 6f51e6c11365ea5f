"""The batch_processor tutorial followed step by step: each failure points at a later step.

A learner who has typed in the code of Steps 1 to N has done what those steps ask, so every
check that names one of those steps must pass: every check that fails names a later step. A
check that failed under an earlier step's name would send the learner back to code that is
right. (A later step's check may pass early: nothing retried is nothing retried wrongly.)

The solution of each step is assembled from the tutorial's own code blocks (the Step 1
module, then each later step's ``class BatchProcessor:  # continued`` methods added or
replaced), so the tutorial's code is tested too: after Step 6 it passes every check.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, RunTutorial

NAME = "batch_processor"
DOCUMENT = REPO / "pytest_tutorial" / "tutorials" / NAME / "tutorial.md"
STEP_HEADING = re.compile(r"^#### Step (\d+):", re.MULTILINE)
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
STEP_OF_CHECK = re.compile(r"Step (\d+):")


def step_code() -> dict[int, str]:
    """The first Python block of each ``#### Step N`` section of the tutorial."""
    text = DOCUMENT.read_text(encoding="utf-8")
    headings = list(STEP_HEADING.finditer(text))
    blocks: dict[int, str] = {}
    for heading, following in zip(headings, [*headings[1:], None], strict=True):
        section = text[heading.end() : following.start() if following else len(text)]
        block = PYTHON_BLOCK.search(section)
        if block:
            blocks[int(heading.group(1))] = block.group(1)
    return blocks


def assemble(last_step: int) -> str:
    """The module a learner has after typing in Steps 1 to ``last_step`` (tests aside)."""
    blocks = step_code()
    module = ast.parse(blocks[1])
    [processor] = [
        node
        for node in module.body
        if isinstance(node, ast.ClassDef) and node.name == "BatchProcessor"
    ]
    for step in range(2, last_step + 1):
        code = ast.parse(blocks[step])
        continued = [n for n in code.body if isinstance(n, ast.ClassDef)]
        if not continued or continued[0].name != "BatchProcessor":
            continue  # Step 5's block is the learner's tests, not the processor
        for method in continued[0].body:
            if not isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            names = [getattr(node, "name", None) for node in processor.body]
            if method.name in names:
                processor.body[names.index(method.name)] = method
            else:
                processor.body.append(method)
    return ast.unparse(module) + "\n"


@pytest.mark.parametrize("last_step", [2, 3, 4, 6])
@pytest.mark.slow
def test_after_each_step_only_later_steps_fail(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    pytester: pytest.Pytester,
    last_step: int,
) -> None:
    copy_solution("reference_solutions", NAME)  # the performance check's reference
    folder = pytester.path / f"step_{last_step}"
    folder.mkdir()
    (folder / f"{NAME}.py").write_text(assemble(last_step), encoding="utf-8")
    run = run_tutorial(NAME, "-k", "not own_tests", solution=folder)
    checks = [
        check
        for item in run.report["checklist"]
        for check in item["checks"]
        if check["status"] != "skipped"  # the learner-tests checks, deselected
    ]
    assert checks
    misplaced = {}
    for check in checks:
        found = STEP_OF_CHECK.search(check["step"] or "")
        assert found, f"{check['name']} names no step"
        step = int(found.group(1))
        if step <= last_step and check["status"] != "passed":
            misplaced[check["name"]] = (step, check["status"], check["message"][:300])
    assert not misplaced, misplaced


def functions(source: str) -> dict[str, str]:
    """Each function and method of ``source`` by name, as an AST dump without docstrings."""
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if ast.get_docstring(node) is not None:
                node.body = body[1:] or [ast.Pass()]
            found[node.name] = ast.dump(node)
    return found


def test_the_final_step_is_the_reference_solution() -> None:
    """Steps 1 to 6 put together are the reference's code (docstrings aside)."""
    reference = (REPO / "reference_solutions" / NAME / f"{NAME}.py").read_text(encoding="utf-8")
    taught, expected = functions(assemble(6)), functions(reference)
    different = sorted(
        name for name in expected.keys() | taught.keys() if taught.get(name) != expected.get(name)
    )
    assert not different, f"the tutorial's code differs from the reference's in {different}"
