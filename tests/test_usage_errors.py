"""Every usage mistake is one clear line naming the file, line or option, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_tutorial.options import LIST, REPORT, SOLUTION, TIMEOUT, TUTORIAL
from tests.conftest import REPO


def _assert_usage_error(result: pytest.RunResult, *fragments: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    text = result.stderr.str() + result.stdout.str()
    for fragment in fragments:
        assert fragment in text, text
    assert "Traceback" not in text


def test_unknown_tutorial(pytester: pytest.Pytester) -> None:
    _assert_usage_error(pytester.runpytest(f"{TUTORIAL}=nope"), "no such tutorial", "caching")


def test_missing_solution_folder(pytester: pytest.Pytester) -> None:
    _assert_usage_error(
        pytester.runpytest(f"{TUTORIAL}=caching"), "exercises/caching does not exist", SOLUTION
    )


def test_bad_timeout_value(pytester: pytest.Pytester) -> None:
    (pytester.path / "exercises" / "caching").mkdir(parents=True)
    _assert_usage_error(
        pytester.runpytest(f"{TUTORIAL}=caching", f"{TIMEOUT}=soon"),
        f"{TIMEOUT}=soon is not valid",
        "seconds",
    )


def test_report_path_that_is_a_folder(pytester: pytest.Pytester) -> None:
    (pytester.path / "exercises" / "caching").mkdir(parents=True)
    _assert_usage_error(pytester.runpytest(f"{TUTORIAL}=caching", f"{REPORT}=."), "is a folder")


def test_ini_twins_are_read(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntutorial = nope\n")
    _assert_usage_error(pytester.runpytest(), "--tutorial=nope: no such tutorial")


def test_list_shows_the_tutorials(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(LIST)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["id*title*difficulty*time*validation*", "caching*intermediate*60 min*automated*"]
    )


@pytest.mark.slow
def test_without_the_option_the_plugin_does_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "import sys\n\n"
        "def test_nothing_heavy_was_imported():\n"
        "    loaded = [name for name in ('pytest_tutorial.activation', 'pytest_tutorial.session',\n"
        "              'pytest_tutorial.document', 'fakeredis', 'moto', 'boto3', 'yaml')\n"
        "              if name in sys.modules]\n"
        "    assert loaded == []\n"
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert "verdict:" not in result.stdout.str()


@pytest.fixture
def tutorial_copy(pytester: pytest.Pytester) -> Path:
    """A copy of the caching tutorial that the test may break; it shadows the bundled one."""
    root = pytester.path / "mine"
    shutil.copytree(
        REPO / "pytest_tutorial" / "tutorials" / "caching",
        root / "caching",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    pytester.makeini("[pytest]\ntutorial_paths = mine\n")
    (pytester.path / "exercises" / "caching").mkdir(parents=True)
    return root / "caching"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_validation_method_not_automated(pytester: pytest.Pytester, tutorial_copy: Path) -> None:
    _edit(
        tutorial_copy / "tutorial.md",
        'validation_method: "automated"',
        'validation_method: "peer_review"',
    )
    _assert_usage_error(
        pytester.runpytest(f"{TUTORIAL}=caching"),
        "tutorial.md:",
        "validation_method is 'peer_review'",
    )


def test_malformed_front_matter(pytester: pytest.Pytester, tutorial_copy: Path) -> None:
    _edit(tutorial_copy / "tutorial.md", 'difficulty: "intermediate"', 'difficulty: "galactic"')
    _assert_usage_error(
        pytester.runpytest(f"{TUTORIAL}=caching"),
        "tutorial.md:",
        "difficulty 'galactic' is not valid",
        "beginner | intermediate",
    )


def test_validation_item_without_check_or_manual_mark(
    pytester: pytest.Pytester, tutorial_copy: Path
) -> None:
    (tutorial_copy / "check_documentation.py").unlink()
    _assert_usage_error(
        pytester.runpytest(f"{TUTORIAL}=caching"),
        "tutorial.md:",
        "'documentation'",
        "has no check",
        "manual",
    )


def test_item_marked_manual_is_accepted_without_check(
    pytester: pytest.Pytester, tutorial_copy: Path
) -> None:
    (tutorial_copy / "check_documentation.py").unlink()
    _edit(
        tutorial_copy / "tutorial.md",
        "<!-- id: documentation -->",
        "<!-- id: documentation, manual -->",
    )
    result = pytester.runpytest(f"{TUTORIAL}=caching", "-k", "bad_settings")
    assert result.ret == 1  # not validated: only one check ran, but no usage error
    result.stdout.fnmatch_lines(["*MANUAL*documentation*"])


def test_check_naming_an_unknown_item(pytester: pytest.Pytester, tutorial_copy: Path) -> None:
    _edit(
        tutorial_copy / "check_errors.py",
        '@pytest.mark.checklist("errors", step=1,',
        '@pytest.mark.checklist("erors", step=1,',
    )
    _assert_usage_error(
        pytester.runpytest(f"{TUTORIAL}=caching"),
        "check_errors.py:",
        "'erors'",
        "does not define",
        "use one of: core, errors",
    )


def test_check_without_marker(pytester: pytest.Pytester, tutorial_copy: Path) -> None:
    with (tutorial_copy / "check_errors.py").open("a", encoding="utf-8") as stream:
        stream.write("\n\ndef test_untied() -> None:\n    pass\n")
    _assert_usage_error(
        pytester.runpytest(f"{TUTORIAL}=caching"),
        "check_errors.py:",
        "test_untied is not tied to a checklist item",
    )
