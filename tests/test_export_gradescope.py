"""``pytest-tutorial export gradescope``: the bundle, and its run_autograder end to end.

The end-to-end tests unpack the exported zip into a temporary folder laid out like
Gradescope's ``/autograder`` (``source/``, ``submission/``, ``results/``), point
run_autograder at it with the test-only variable ``PYTEST_TUTORIAL_AUTOGRADER_ROOT``, and
stand in for setup.sh's virtual environment with a one-line ``python`` that runs this
project's interpreter (setup.sh itself needs apt and the package index).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_tutorial.cli import main
from pytest_tutorial.export import gradescope_results
from pytest_tutorial.export.gradescope_bundle import VENV_FOLDER
from pytest_tutorial.export.gradescope_run import ROOT_VARIABLE, SANDBOX_NOTE
from pytest_tutorial.export.gradescope_settings import SETTINGS_NAME, Settings, Visibility, read
from tests.conftest import REPO

SCHEMA = json.loads(
    (Path(__file__).parent / "gradescope_results.schema.json").read_text(encoding="utf-8")
)
HIDDEN_ITEM = "performance"


def validate(results: dict[str, Any]) -> None:
    """results.json has Gradescope's documented fields, and no others."""
    jsonschema.Draft202012Validator(SCHEMA).validate(results)


def export(tmp_path: Path, *options: str, name: str = "caching") -> Path:
    """Export the tutorial's autograder into ``tmp_path`` and return the zip."""
    out = tmp_path / "autograder.zip"
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        status = main(["export", "gradescope", name, "--out", str(out), *options])
    finally:
        os.chdir(cwd)
    assert status == 0
    return out


def gradescope_root(tmp_path: Path, bundle: Path, submission: Path | None) -> Path:
    """A folder laid out like Gradescope's /autograder after setup.sh ran."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):
        path = root / "source" / name
        path.chmod(path.stat().st_mode | stat.S_IXUSR)  # zipfile does not restore modes
    python = root / VENV_FOLDER / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    python.chmod(0o755)
    (root / "submission").mkdir()
    if submission is not None:
        shutil.copytree(submission, root / "submission", dirs_exist_ok=True)
    return root


def run_autograder(root: Path, path: str | None = None) -> dict[str, Any]:
    """Run the bundle's run_autograder as Gradescope does; the results.json it wrote."""
    env = {**os.environ, ROOT_VARIABLE: str(root)}
    if path is not None:
        env["PATH"] = path
    done = subprocess.run(
        [str(root / "source" / "run_autograder")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results: dict[str, Any] = json.loads((root / "results" / "results.json").read_text())
    validate(results)
    return results


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """caching's autograder: 20 s per submission, one item hidden with its messages."""
    folder = tmp_path_factory.mktemp("bundle")
    return export(
        folder,
        "--package",
        "index",
        "--timeout",
        "20",
        "--hidden-item",
        HIDDEN_ITEM,
        "--hide-messages",
    )


def starter_with(tmp_path: Path, code: str) -> Path:
    """The caching starter with ``cache_service.py`` replaced by ``code``."""
    folder = tmp_path / "learner"
    shutil.copytree(REPO / "exercises" / "caching", folder)
    (folder / "cache_service.py").write_text(code, encoding="utf-8")
    return folder


def test_the_bundle_holds_what_gradescope_runs(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        setup = archive.read("setup.sh").decode()
        run = archive.read("run_autograder").decode()
        constraints = archive.read("constraints.txt").decode()
        settings_text = archive.read(SETTINGS_NAME).decode()
    assert {"setup.sh", "run_autograder", SETTINGS_NAME, "constraints.txt"} <= names
    assert not any(name.startswith(("tutorials/", "wheels/")) for name in names)  # bundled
    assert modes["setup.sh"] & 0o111
    assert modes["run_autograder"] & 0o111
    assert setup.startswith("#!/usr/bin/env bash")
    assert run.startswith("#!/usr/bin/env bash")
    assert '"pytest-tutorial==0.1.0"' in setup  # pinned: --package index
    assert "bubblewrap" in setup
    assert "pytest==" in constraints
    assert "moto==" in constraints
    for script in (setup, run):
        syntax = subprocess.run(["bash", "-n"], input=script, text=True, check=False)
        assert syntax.returncode == 0
    (Path(bundle.parent) / SETTINGS_NAME).write_text(settings_text, encoding="utf-8")
    settings = read(Path(bundle.parent) / SETTINGS_NAME)
    assert settings.tutorial == "caching"
    assert settings.hidden_items == (HIDDEN_ITEM,)
    assert settings.hide_messages
    assert settings.timeout_s == 20


def test_unknown_items_and_tutorials_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a.zip"
    assert main(["export", "gradescope", "caching", "--out", str(out), "--hidden-item", "nope"])
    said = capsys.readouterr().out
    assert "--hidden-item nope" in said
    assert "core" in said
    assert main(["export", "gradescope", "no_such_tutorial", "--out", str(out)]) == 2
    assert "no tutorial called 'no_such_tutorial'" in capsys.readouterr().out
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(["export", "gradescope", "caching", "--visibility", "sometimes"])


def test_shaping_applies_visibility_and_hides_messages() -> None:
    graded = {
        "score": 1,
        "max_score": 3,
        "output": "verdict: failed",
        "tests": [
            {"name": "a", "score": 1, "max_score": 1, "output": "PASSED: x", "tags": ["core"]},
            {
                "name": "b",
                "score": 0,
                "max_score": 2,
                "output": "FAILED: y\nthe secret input 42 gave 41\nhint: z",
                "tags": [HIDDEN_ITEM],
            },
        ],
    }
    settings = Settings(
        tutorial="caching",
        package_version="0.1.0",
        visibility=Visibility.AFTER_DUE_DATE,
        hidden_items=(HIDDEN_ITEM,),
        hide_messages=True,
    )
    shaped = gradescope_results.shape(graded, settings, ["no bubblewrap"])
    validate(shaped)
    first, second = shaped["tests"]
    assert first["visibility"] == "after_due_date"
    assert second["visibility"] == "hidden"
    assert "42" not in second["output"]
    assert second["output"].startswith("FAILED: y\n")
    assert shaped["output"].startswith("note: no bubblewrap\n")
    assert shaped["extra_data"]["max_score"] == 3
    shown = gradescope_results.shape(graded, Settings("caching", "0.1.0"), [])
    assert "42" in shown["tests"][1]["output"]
    assert {test["visibility"] for test in shown["tests"]} == {"visible"}


def test_an_autograder_that_cannot_start_still_writes_a_zero(bundle: Path, tmp_path: Path) -> None:
    root = gradescope_root(tmp_path, bundle, REPO / "reference_solutions" / "caching")
    shutil.rmtree(root / VENV_FOLDER)  # setup.sh failed: no Python to run
    results = run_autograder(root)
    assert results["score"] == 0
    assert "tell your instructor" in results["output"]


def test_an_empty_submission_gets_a_zero_that_says_so(bundle: Path, tmp_path: Path) -> None:
    results = run_autograder(gradescope_root(tmp_path, bundle, None))
    assert results["score"] == 0
    assert "Nothing was submitted" in results["output"]


def _tests_by_item(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    items: dict[str, list[dict[str, Any]]] = {}
    for test in results["tests"]:
        items.setdefault(test["tags"][0], []).append(test)
    return items


@pytest.mark.slow
def test_the_reference_gets_full_marks(bundle: Path, tmp_path: Path) -> None:
    root = gradescope_root(tmp_path, bundle, REPO / "reference_solutions" / "caching")
    results = run_autograder(root)
    full = results["extra_data"]["max_score"]
    assert full > 0
    assert results["score"] == full == sum(test["max_score"] for test in results["tests"])
    assert {test["status"] for test in results["tests"]} == {"passed"}
    items = _tests_by_item(results)
    assert {test["visibility"] for test in items.pop(HIDDEN_ITEM)} == {"hidden"}
    assert {test["visibility"] for tests in items.values() for test in tests} == {"visible"}


@pytest.mark.slow
def test_the_starter_gets_zero(bundle: Path, tmp_path: Path) -> None:
    results = run_autograder(gradescope_root(tmp_path, bundle, REPO / "exercises" / "caching"))
    assert results["score"] == 0
    assert results["extra_data"]["max_score"] > 0
    assert {test["status"] for test in results["tests"]} == {"failed"}
    items = _tests_by_item(results)
    hidden = items.pop(HIDDEN_ITEM)
    assert all(test["output"].endswith(gradescope_results.HIDDEN_MESSAGE) for test in hidden)
    shown = [test["output"] for tests in items.values() for test in tests]
    assert any("hint: " in output for output in shown)  # visible checks keep their hints


@pytest.mark.slow
def test_a_syntax_error_gets_zero_and_says_where(bundle: Path, tmp_path: Path) -> None:
    learner = starter_with(tmp_path, "class CacheService:\n    def get(self, key:\n")
    results = run_autograder(gradescope_root(tmp_path, bundle, learner))
    assert results["score"] == 0
    assert any("SyntaxError" in test["output"] for test in results["tests"])


@pytest.mark.slow
def test_a_hanging_submission_gets_zero_within_the_limit(bundle: Path, tmp_path: Path) -> None:
    learner = starter_with(tmp_path, "import time\n\ntime.sleep(3600)\n")
    results = run_autograder(gradescope_root(tmp_path, bundle, learner))
    assert results["score"] == 0
    assert "grading timeout" in results["output"]
    assert "20 s wall-clock limit" in results["output"]


@pytest.mark.slow
def test_without_bubblewrap_it_grades_with_a_note(bundle: Path, tmp_path: Path) -> None:
    learner = starter_with(tmp_path, "class CacheService:\n    def get(self, key:\n")
    root = gradescope_root(tmp_path, bundle, learner)
    broken = tmp_path / "no-bwrap"
    broken.mkdir()
    fake = broken / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    results = run_autograder(root, path=f"{broken}{os.pathsep}{os.environ['PATH']}")
    assert results["output"].startswith(f"note: {SANDBOX_NOTE}")
    assert results["score"] == 0
    assert results["tests"]


@pytest.mark.slow
def test_from_a_checkout_the_bundle_carries_a_wheel(tmp_path: Path) -> None:
    bundle = export(tmp_path, "--package", "wheel")
    with zipfile.ZipFile(bundle) as archive:
        wheels = [name for name in archive.namelist() if name.startswith("wheels/")]
        setup = archive.read("setup.sh").decode()
        assert len(wheels) == 1
        assert wheels[0].endswith("-py3-none-any.whl")
        inner = tmp_path / "the.whl"
        inner.write_bytes(archive.read(wheels[0]))
    assert f'"$SOURCE/{wheels[0]}"' in setup
    with zipfile.ZipFile(inner) as wheel:
        names = wheel.namelist()
    assert "pytest_tutorial/export/gradescope_run.py" in names
    assert any(name.startswith("pytest_tutorial/_bundled/exercises/caching/") for name in names)
