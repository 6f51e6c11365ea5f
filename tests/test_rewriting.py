"""A tutorial run rewrites the asserts of its checks, not of the libraries behind them."""

from __future__ import annotations

import json

import pytest

from pytest_tutorial.options import SOLUTION, TUTORIAL
from pytest_tutorial.rewriting import LibraryFinder
from tests.conftest import REPO

PROBE = """
import json, sys
from _pytest.assertion.rewrite import AssertionRewritingHook

def pytest_collection_finish(session):
    rewritten = sorted(
        name for name, module in list(sys.modules.items())
        if isinstance(getattr(module, "__loader__", None), AssertionRewritingHook)
    )
    with open("rewritten.json", "w") as out:
        json.dump(rewritten, out)
"""


def test_a_tutorial_run_rewrites_its_checks_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(rewrite_probe=PROBE)
    reference = REPO / "reference_solutions" / "caching"
    result = pytester.runpytest_subprocess(
        "-p", "rewrite_probe", f"{TUTORIAL}=caching", f"{SOLUTION}={reference}", "--co"
    )
    assert "check_core.py::" in result.stdout.str()
    rewritten = json.loads((pytester.path / "rewritten.json").read_text(encoding="utf-8"))
    assert "pytest_tutorial.tutorials.caching.check_core" in rewritten
    assert "pytest_tutorial.fixtures.core" in rewritten
    assert "pytest_tutorial.standard_checks" in rewritten
    libraries = {"pytest_tutorial.session", "pytest_tutorial.document", "pytest_tutorial.load"}
    assert [name for name in rewritten if name in libraries or name.startswith("hypothesis")] == []


def test_the_finder_leaves_checks_and_other_packages_to_pytest() -> None:
    finder = LibraryFinder()
    assert finder.find_spec("pytest_tutorial.tutorials.caching.check_core") is None
    assert finder.find_spec("pytest_tutorial.fixtures") is None
    assert finder.find_spec("json") is None
    assert finder.find_spec("hypothesis_extra_not_a_library") is None
    assert finder.find_spec("hypothesis") is not None
