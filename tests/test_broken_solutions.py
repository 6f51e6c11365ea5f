"""A solution that cannot be imported, or hangs, still gets a complete report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_tutorial.options import TIMEOUT
from tests.conftest import RunTutorial

pytestmark = pytest.mark.slow


def _broken(copy_solution: Callable[..., Path], name: str, source: str) -> Path:
    folder = copy_solution("reference_solutions", "caching", to=f"broken/{name}")
    (folder / "cache_service.py").write_text(source, encoding="utf-8")
    return folder


CASES = {
    "syntax_error": (
        '"""Broken."""\n\nclass CacheService:\n    def get(self, key)\n        pass\n',
        ["cache_service.py:4", "SyntaxError"],
    ),
    "missing_class": (
        '"""No class."""\n\ndef monitor(func):\n    return func\n',
        ["does not define 'CacheService'"],
    ),
    "exception_at_import": (
        '"""Raises."""\n\nimport os\n\nSETTINGS = os.environ["NO_SUCH_VARIABLE_X"]\n',
        ["cache_service.py:5", "KeyError", "NO_SUCH_VARIABLE_X"],
    ),
    "missing_dependency": (
        '"""Imports something absent."""\n\nimport no_such_module_here\n',
        ["cache_service.py:3", "ModuleNotFoundError"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_import_failure_is_reported_readably(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], case: str
) -> None:
    source, expected = CASES[case]
    run = run_tutorial(
        "caching", "-k", "not own_tests", solution=_broken(copy_solution, case, source)
    )
    assert run.result.ret == 1
    assert run.report["verdict"] == "not_validated"
    core = run.items["core"]
    assert core["status"] == "error"
    message = core["checks"][0]["message"]
    for fragment in expected:
        assert fragment in message, message
    output = run.result.stdout.str()
    assert "Traceback" not in output
    assert "pytest_tutorial/solution.py" not in output, "a harness frame reached the learner"
    assert "INTERNALERROR" not in output


def test_hang_at_import_times_out_and_the_run_goes_on(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    folder = _broken(copy_solution, "hangs", '"""Hangs."""\n\nwhile True:\n    pass\n')
    run = run_tutorial("caching", "-k", "not own_tests", f"{TIMEOUT}=1", solution=folder)
    assert run.result.ret == 1
    statuses = [c["status"] for item in run.report["checklist"] for c in item["checks"]]
    assert statuses.count("timeout") == 1, statuses  # the import; later checks fail fast
    assert "did not finish within 1 s" in str(run.report)
    assert run.report["duration_s"] < 30


def test_hang_inside_a_method_times_out_only_that_check(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    folder = copy_solution("reference_solutions", "caching", to="hangs_in_invalidate")
    module = folder / "cache_service.py"
    text = module.read_text(encoding="utf-8")
    marker = '        """Drop ``key`` from Redis and the local LRU; True when Redis held it."""\n'
    assert text.count(marker) == 1
    module.write_text(text.replace(marker, marker + "        while True:\n            pass\n"))
    run = run_tutorial(
        "caching", "-k", "invalidate or computes_once", f"{TIMEOUT}=1", solution=folder
    )
    checks = {
        c["id"].rsplit("::", 1)[-1]: c["status"]
        for item in run.report["checklist"]
        for c in item["checks"]
    }
    assert checks["test_invalidate_removes_both_levels"] == "timeout"
    assert checks["test_computes_once_then_serves_the_cached_value"] == "passed"
    run.result.stdout.fnmatch_lines(["*TIMEOUT*core*"])
