"""The files of a new tutorial, built from the course template shipped in this package.

``tutorial-template.txt`` beside this module is a copy of the course's tutorial template
(learners and instructors who installed the package have no other). The document keeps every section
and placeholder of it; the scaffold only makes it automated: ``validation_method:
automated``, a ``validation`` block, ``status: draft``, and ids on the six Validation
Checklist items, which the check module's stubs name.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

from pytest_tutorial.model import PerformanceTarget
from pytest_tutorial.performance import rule_sentence

TEMPLATE = Path(__file__).resolve().parent / "tutorial-template.txt"
CHECK_MODULE = "check_checklist.py"

VALIDATION_ITEMS = (
    # (template text, id, step to reread, what a check of it proves)
    (
        "All core functionality works correctly",
        "core",
        2,
        "the main operations return the right plain values for ordinary and edge-case input",
    ),
    (
        "Error handling is robust",
        "errors",
        2,
        "bad input raises the documented exception and "
        "a failing dependency is survived or reported",
    ),
    (
        "Performance meets requirements",
        "performance",
        3,
        "p95 under concurrent load meets "
        "the front matter's target (use the load_runner fixture's judge)",
    ),
    ("Code is well-documented", "documentation", 1, "the public API has docstrings and type hints"),
    (
        "Tests pass consistently",
        "tests",
        5,
        "the learner's own tests pass in shuffled order and catch known-bad implementations",
    ),
    (
        "Integration points work correctly",
        "integration",
        4,
        "the solution works with its real dependencies' fakes (fakeredis, moto, async clients)",
    ),
)

_SUGGESTIONS = {
    "documentation": (
        "    # Most tutorials replace this function with the ready-made check:\n"
        "    #     test_documentation = pytest_tutorial.documentation_check(step=1, hint=...)\n"
    ),
    "tests": (
        "    # Most tutorials replace this function with the two ready-made checks, which run\n"
        "    # the solution's tests/ against known_bad.py (docs/authoring.md):\n"
        "    #     test_pass, test_catch = pytest_tutorial.own_tests_checks(step=5, ...)\n"
    ),
    "performance": (
        "    # load_runner.judge(scenario, name=...) measures the solution and the reference\n"
        "    # interleaved and fails on a missed target (docs/authoring.md, Fixtures).\n"
    ),
}


@dataclass(frozen=True)
class NewFile:
    """One file the scaffold writes: where, relative to its base folder, and what."""

    path: Path
    text: str


def module_name(name: str) -> str:
    """The learner's module for tutorial ``name`` (``demo`` -> ``demo``)."""
    return name


def document(name: str, today: datetime.date | None = None) -> str:
    """The tutorial document: the template, made automated, every placeholder kept."""
    text = TEMPLATE.read_text(encoding="utf-8")
    day = (today or datetime.date.today()).isoformat()
    text = _replace_once(text, 'last_updated: "2025-01-20"', f'last_updated: "{day}"')
    text = _replace_once(text, 'status: "published"', 'status: "draft"')
    text = _replace_once(text, 'validation_method: "self_check"', 'validation_method: "automated"')
    front_end = text.index("\n---\n", 4)
    text = text[:front_end] + _validation_block(name) + text[front_end:]
    for item_text, item_id, _, _ in VALIDATION_ITEMS:
        text = _replace_once(
            text, f"- [ ] {item_text}\n", f"- [ ] {item_text} <!-- id: {item_id} -->\n"
        )
    return _replace_once(text, VALIDATION_HEADING, f"{_performance_rule()}\n\n{VALIDATION_HEADING}")


VALIDATION_HEADING = "### Validation Checklist\n"
SCAFFOLD_PERFORMANCE = PerformanceTarget(p95_ms=50.0, relative_p95=2.0, p95_floor_ms=1.0)
"""The performance block the scaffold writes (keep in step with :func:`_validation_block`)."""


def _performance_rule() -> str:
    """The rule the performance check applies, as the front matter above declares it."""
    return (
        "`pytest --tutorial` runs this load test against your code and the reference "
        f"solution, interleaved. {rule_sentence(SCAFFOLD_PERFORMANCE)}"
    )


def _validation_block(name: str) -> str:
    module = module_name(name)
    return (
        "\n\n# Automated validation (read by `pytest --tutorial=" + name + "`; docs/authoring.md)\n"
        "validation:\n"
        "  solution:\n"
        f'    module: "{module}"  # the learner writes {module}.py in exercises/{name}/\n'
        "    exports: []  # the names that module must define, e.g. ['MainClass']\n"
        "  timeout_s: 30  # time limit per check\n"
        "  performance:\n"
        "    requests: 100\n"
        "    concurrency: 10\n"
        "    relative_p95: 2.0  # pass within 2 x the reference's p95, measured in the same run\n"
        "    p95_floor_ms: 1.0  # ... or at or below this (latency that cannot matter here)\n"
        "    p95_ms: 50.0  # the ceiling: fail above it whatever the reference measured\n"
        "  # min_kill_rate: 0.8  # share of reference mutants the checks must catch (verify)"
    )


def check_module(name: str) -> str:
    """One check per Validation Checklist item, each failing until it is written."""
    parts = [
        f'"""Checks of the {name} tutorial: one per Validation Checklist item (scaffolded).\n\n'
        'Each check fails with "check not written yet" until you replace its\n'
        "``not_written_yet(...)`` call with a real check. Checks receive everything through\n"
        "fixtures (``solution`` is the learner's module) and compare plain values; see\n"
        "docs/authoring.md. ``pytest-tutorial verify " + name + "`` lists what is missing.\n"
        '"""\n\n'
        "from __future__ import annotations\n\n"
        "import pytest\n\n"
        "from pytest_tutorial import LoadRunner, Solution, not_written_yet\n"
    ]
    for item_text, item_id, step, proves in VALIDATION_ITEMS:
        fixtures = "solution: Solution"
        if item_id == "performance":
            fixtures = "solution: Solution, load_runner: LoadRunner"
        parts.append(
            "\n\n"
            f'@pytest.mark.checklist("{item_id}", points=1, step={step}, hint="")\n'
            f"def test_{item_id}({fixtures}) -> None:\n"
            f'    """{item_text}:\n    {proves}.\n    """\n'
            + _SUGGESTIONS.get(item_id, "")
            + f'    not_written_yet("{item_id}")\n'
        )
    return "".join(parts)


def starter_files(name: str) -> list[NewFile]:
    """``exercises/NAME``: the stub module, a README and a tests folder for the learner."""
    module = module_name(name)
    return [
        NewFile(Path(f"{module}.py"), _stub_module(name, starter=True)),
        NewFile(
            Path("README.md"),
            f"# Exercise: {name}\n\n"
            f"Implement the stubs in [`{module}.py`]({module}.py); every one raises\n"
            "`NotImplementedError` and names the tutorial step that implements it. Write your\n"
            f"own tests in `tests/`. Check your work from the course folder with\n\n"
            f"```bash\npytest --tutorial={name}\n```\n",
        ),
        NewFile(Path("tests") / f"test_{module}.py", _tests_module(name)),
    ]


def reference_files(name: str) -> list[NewFile]:
    """``reference_solutions/NAME``: where the instructor writes the complete solution."""
    module = module_name(name)
    return [
        NewFile(Path(f"{module}.py"), _stub_module(name, starter=False)),
        NewFile(Path("tests") / f"test_{module}.py", _tests_module(name)),
    ]


def _stub_module(name: str, *, starter: bool) -> str:
    who = (
        "the learner's starting point: keep the names and signatures, every body raises\n"
        "NotImplementedError and names the step of the tutorial that implements it"
        if starter
        else "the instructor's complete, idiomatic solution: write it here (it must pass\n"
        "every check: ``pytest --tutorial=" + name + " --tutorial-solution=reference``)"
    )
    return (
        f'"""The {name} tutorial:\n{who}.\n"""\n\n'
        "from __future__ import annotations\n\n\n"
        "class MainClass:\n"
        '    """Rename me after the tutorial\'s main class and list me in the front matter\'s\n'
        '    validation.solution.exports."""\n\n'
        "    def __init__(self, config: dict[str, object]) -> None:\n"
        '        """Keep the configuration; no I/O happens here."""\n'
        '        raise NotImplementedError("__init__ is not implemented yet: see Step 1")\n'
    )


def _tests_module(name: str) -> str:
    module = module_name(name)
    return (
        f'"""Tests of ``{module}`` (Step 5 of the {name} tutorial).\n\n'
        f"``pytest --tutorial={name}`` runs them three times in shuffled order.\n"
        '"""\n\n'
        "from __future__ import annotations\n\n"
        f"import {module}\n\n\n"
        f"def test_{module}_has_a_main_class() -> None:\n"
        f'    assert hasattr({module}, "MainClass")\n'
    )


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise ValueError(f"the shipped template changed: {old!r} is not there exactly once")
    return text.replace(old, new)


NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
