"""A newcomer's first command works from a fresh clone without the test extra.

The README's quickstart runs ``pytest --tutorial=caching --tutorial-solution=reference`` at
the repository root after ``pip install -e .``: the project's own test configuration
(``tests/conftest.py``, which needs jsonschema) must not be loaded by a tutorial run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

TEST_EXTRA = ("jsonschema", "mypy", "ruff")
"""Packages of the ``test`` extra that a plain ``pip install -e .`` does not bring."""
TEST_EXTRA_PLUGINS = ("xdist",)
"""Plugins of the ``test`` extra: disabled, as if they were not installed."""


def _readme_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^(pip install -e .*)$", readme, flags=re.MULTILINE)


def test_the_readme_quickstart_runs_a_tutorial_before_any_test_tool() -> None:
    first = _readme_commands()[0]
    assert first == "pip install -e . && pytest --tutorial=caching --tutorial-solution=reference"


def test_a_tutorial_run_at_the_repository_root_needs_no_test_extra(tmp_path: Path) -> None:
    shadow = tmp_path / "without-test-extra"
    for name in TEST_EXTRA:
        package = shadow / name
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{name}'\", name={name!r})\n"
        )
    disabled = " ".join(f"-p no:{plugin}" for plugin in TEST_EXTRA_PLUGINS)
    env = {**os.environ, "PYTHONPATH": str(shadow), "PYTEST_ADDOPTS": disabled}
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--tutorial=caching",
            "--tutorial-solution=reference",
            f"--tutorial-report={report}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "verdict: VALIDATED" in output
    assert "tests/conftest.py" not in output
    assert "testpaths" not in output
    assert report.is_file()
