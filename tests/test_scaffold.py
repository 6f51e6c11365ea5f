"""Tests of ``pytest-tutorial new``: the files it writes, the ini edit, and what verify says."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pytest_tutorial
from pytest_tutorial.cli import main
from pytest_tutorial.document import parse_tutorial
from pytest_tutorial.performance import states_the_rule
from pytest_tutorial.scaffold.build import (
    CHECK_MODULE,
    SCAFFOLD_PERFORMANCE,
    TEMPLATE,
    VALIDATION_ITEMS,
)
from pytest_tutorial.scaffold.ini import add_tutorial_path
from tests.commands import steps, verify


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_new_writes_document_checks_starter_and_reference(
    course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", "demo"]) == 0
    out = capsys.readouterr().out
    assert "created pytest.ini with tutorial_paths = tutorials" in out
    assert "pytest-tutorial verify demo" in out
    folder = course / "tutorials" / "demo"
    tutorial = parse_tutorial(folder / "tutorial.md")
    assert tutorial.metadata.validation_method.value == "automated"
    assert tutorial.metadata.status == "draft"
    assert tutorial.validation is not None
    assert tutorial.validation.solution.module == "demo"
    assert [item.id for item in tutorial.validation_items] == [i[1] for i in VALIDATION_ITEMS]
    assert tutorial.validation.performance == SCAFFOLD_PERFORMANCE
    text = (folder / "tutorial.md").read_text(encoding="utf-8")
    assert states_the_rule(text, tutorial.validation.performance)
    template = TEMPLATE.read_text(encoding="utf-8").splitlines()
    document = (folder / "tutorial.md").read_text(encoding="utf-8").splitlines()
    template_headings = [line for line in template if line.startswith("#")]
    document_headings = [line for line in document if line.startswith("#")]
    assert [h for h in document_headings if not h.startswith("# Automated")] == template_headings
    checks = ast.parse((folder / CHECK_MODULE).read_text(encoding="utf-8"))
    names = [node.name for node in checks.body if isinstance(node, ast.FunctionDef)]
    assert names == [f"test_{item[1]}" for item in VALIDATION_ITEMS]
    for kind in ("exercises", "reference_solutions"):
        assert (course / kind / "demo" / "demo.py").is_file()
        assert (course / kind / "demo" / "tests" / "test_demo.py").is_file()
    assert (course / "pytest.ini").read_text(
        encoding="utf-8"
    ) == "[pytest]\ntutorial_paths = tutorials\n"


def test_new_refuses_bad_names_and_existing_folders(
    course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", "Bad-Name"]) == 2
    assert "not a valid tutorial id" in capsys.readouterr().out
    assert main(["new", "caching"]) == 2
    assert "already installed" in capsys.readouterr().out
    (course / "exercises" / "demo").mkdir(parents=True)
    assert main(["new", "demo"]) == 2
    out = capsys.readouterr().out
    assert "nothing was written" in out
    assert "exercises/demo exists" in out
    assert not (course / "tutorials").exists()


@pytest.mark.slow
def test_new_then_verify_explains_what_is_missing(course: Path) -> None:
    """Also: verify finds a tutorial by the path of its folder."""
    assert main(["new", "demo", "--into", "my_tutorials"]) == 0
    (course / "pytest.ini").unlink()  # so that only the path can find it
    result, document = verify(course, "my_tutorials/demo", "--max-mutants", "0")
    assert result.returncode == 1
    found = steps(document)
    assert found["document"]["outcome"] == "passed"
    placeholders = found["placeholders"]["findings"]
    assert placeholders[0]["message"] == "[Skill/Technology]"
    assert placeholders[0]["path"].endswith("my_tutorials/demo/tutorial.md")
    assert placeholders[0]["line"] == 2
    assert "my_tutorials/demo/tutorial.md:2: [Skill/Technology]" in result.stdout
    not_written = found["coverage"]["findings"]
    assert len(not_written) == 6
    assert not_written[0]["message"] == "check test_core of item 'core' is not written yet"
    assert not_written[0]["path"].endswith("check_checklist.py")
    assert found["reference"]["outcome"] == "failed"
    assert "item 'core' failed: test_core is not written yet" in result.stdout
    assert found["starter"]["outcome"] == "passed"
    assert found["mutation"]["outcome"] == "skipped"


@pytest.mark.parametrize(
    ("name", "before", "after", "changed"),
    [
        (
            "pyproject.toml",
            '[project]\nname = "x"\n\n[tool.pytest.ini_options]\naddopts = "-q"\n',
            '[project]\nname = "x"\n\n[tool.pytest.ini_options]\ntutorial_paths = ["tutorials"]\n'
            'addopts = "-q"\n',
            True,
        ),
        (
            "pyproject.toml",
            '[tool.pytest.ini_options]\ntutorial_paths = ["mine"]\n',
            '[tool.pytest.ini_options]\ntutorial_paths = ["mine"]\n',
            False,
        ),
        (
            "tox.ini",
            "[tox]\n\n[pytest]\ntutorial_paths = mine\n",
            "[tox]\n\n[pytest]\ntutorial_paths = mine tutorials\n",
            True,
        ),
        (
            "setup.cfg",
            "[tool:pytest]\ntutorial_paths = tutorials\n",
            "[tool:pytest]\ntutorial_paths = tutorials\n",
            False,
        ),
        ("pytest.ini", "", "[pytest]\ntutorial_paths = tutorials\n", True),
    ],
)
def test_the_ini_gets_the_tutorials_folder(
    tmp_path: Path, name: str, before: str, after: str, changed: bool
) -> None:
    (tmp_path / name).write_text(before, encoding="utf-8")
    change = add_tutorial_path(tmp_path, tmp_path / "tutorials")
    assert (change.path.name, change.changed) == (name, changed)
    assert (tmp_path / name).read_text(encoding="utf-8") == after
    if name == "pyproject.toml" and not changed:
        assert "add tutorials to tutorial_paths in pyproject.toml (line 2)" in change.message


def test_the_scaffolded_checks_use_only_the_public_api(course: Path) -> None:
    """A new tutorial's check module passes tests/test_public_api.py's rule from the start."""
    assert main(["new", "demo"]) == 0
    source = (course / "tutorials" / "demo" / CHECK_MODULE).read_text(encoding="utf-8")
    imported = [
        (node.module, [alias.name for alias in node.names])
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pytest_tutorial")
    ]
    assert imported, source
    for module, names in imported:
        assert module == "pytest_tutorial", module
        assert set(names) <= set(pytest_tutorial.__all__), names
    assert max(len(line) for line in source.splitlines()) <= 100


def test_new_into_a_package_makes_the_tutorial_a_subpackage(course: Path) -> None:
    (course / "pack").mkdir()
    (course / "pack" / "__init__.py").write_text("", encoding="utf-8")
    assert main(["new", "demo", "--into", "pack"]) == 0
    assert (course / "pack" / "demo" / "__init__.py").is_file()
    assert main(["new", "other", "--into", "plain"]) == 0
    assert not (course / "plain" / "other" / "__init__.py").exists()
