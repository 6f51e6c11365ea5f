"""``pytest-tutorial start``, the shipped starters and references, and the errors naming them.

Run from the checkout, where the bundled tutorials' starters and references are the
repository's folders. ``tests/test_start_installed.py`` does the same from a built wheel.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from pytest_tutorial import bundled, cli
from pytest_tutorial.discovery import TutorialSource, find_tutorials
from pytest_tutorial.grading.batch import feed_archive
from pytest_tutorial.grading.sandbox import MARKER_VARIABLE
from pytest_tutorial.grading.submission import hidden_roots
from pytest_tutorial.options import LIST, SOLUTION, TUTORIAL
from pytest_tutorial.start.layout import Origin, lay_out
from tests.commands import environment
from tests.conftest import REPO
from tests.mini_course import CHECKS, REFERENCE, STARTER, make_course
from tests.mini_course import TUTORIAL as MINI

STARTED = [
    "README.md",
    "TUTORIAL.md",
    "cache_service.py",
    "pytest.ini",
    "tests/test_cache_service.py",
]


def start(cwd: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``pytest-tutorial start ARGS`` in ``cwd``, in process: its status and output."""
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        status = cli.main(["start", *args])
    finally:
        os.chdir(previous)
    return status, capsys.readouterr().out


def test_start_lays_out_the_starter_its_tests_the_tutorial_and_an_ini(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, output = start(tmp_path, "caching", capsys=capsys)
    assert status == 0, output
    folder = tmp_path / "caching"
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == STARTED
    code = (REPO / "exercises/caching/cache_service.py").read_text(encoding="utf-8")
    assert (folder / "cache_service.py").read_text(encoding="utf-8") == code
    assert output.splitlines()[-3:-1] == ["  cd caching", "  pytest --tutorial=caching"]

    ini = (folder / "pytest.ini").read_text(encoding="utf-8")
    settings = ini[ini.index("[pytest]") :].splitlines()
    assert settings == [
        "[pytest]",
        "tutorial_solution = .",
        "pythonpath = .",
        "testpaths = tests",
        "asyncio_mode = auto",
        "asyncio_default_fixture_loop_scope = function",
    ]  # and no `tutorial` key: a plain pytest run stays a run of the folder's own tests

    document = (folder / "TUTORIAL.md").read_text(encoding="utf-8")
    assert document.startswith("---\ntitle: ")
    assert "> This copy of the tutorial (version 1.0) came with pytest-tutorial 0.1.0" in document
    assert "[Exercise README](README.md)" in document
    assert "](../" not in document  # no link leads out of the folder

    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "[Caching Hands-On Tutorial](TUTORIAL.md)" in readme
    assert "repository root" not in readme
    assert "pytest --tutorial=caching " in readme
    assert "pytest-tutorial watch caching " in readme


def test_start_reference_lays_out_the_reference_with_a_readme(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, output = start(tmp_path, "caching", "--reference", capsys=capsys)
    assert status == 0, output
    folder = tmp_path / "caching-reference"
    code = (REPO / "reference_solutions/caching/cache_service.py").read_text(encoding="utf-8")
    assert (folder / "cache_service.py").read_text(encoding="utf-8") == code
    assert (folder / "tests" / "test_cache_service.py").is_file()
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# Multi-Level Caching with Redis")
    assert "pytest-tutorial start caching --reference" in readme
    assert "[TUTORIAL.md](TUTORIAL.md)" in readme


def test_the_folder_may_follow_an_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``start caching --reference ref``: argparse alone rejected ``ref`` as unrecognized."""
    status, output = start(tmp_path, "caching", "--reference", "ref", capsys=capsys)
    assert status == 0, output
    assert (tmp_path / "ref" / "cache_service.py").read_text(encoding="utf-8") == (
        REPO / "reference_solutions/caching/cache_service.py"
    ).read_text(encoding="utf-8")


def test_an_unknown_option_is_still_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        start(tmp_path, "caching", "--refrence", "ref", capsys=capsys)
    assert stopped.value.code == 2
    assert "unrecognized arguments: --refrence" in capsys.readouterr().err
    assert not (tmp_path / "ref").exists()


def test_start_never_overwrites_a_folder_with_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my work", encoding="utf-8")
    status, output = start(tmp_path, "caching", "mine", capsys=capsys)
    assert status == 2
    assert "start: nothing was written: mine is not an empty folder" in output
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging folder left

    (tmp_path / "empty").mkdir()
    status, output = start(tmp_path, "caching", "empty", capsys=capsys)
    assert status == 0, output
    assert (tmp_path / "empty" / "cache_service.py").is_file()


def test_start_of_an_unknown_tutorial_names_the_ones_there_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, output = start(tmp_path, "cachng", capsys=capsys)
    assert status == 2
    assert "no tutorial called 'cachng'; the tutorials: batch_processor, caching" in output
    assert list(tmp_path.iterdir()) == []


def test_litter_is_not_laid_out(tmp_path: Path) -> None:
    code = tmp_path / "code"
    for name in ("mini.py", "tests/test_mini.py", "__pycache__/mini.pyc", ".hypothesis/x"):
        (code / name).parent.mkdir(parents=True, exist_ok=True)
        (code / name).write_text("x = 1\n", encoding="utf-8")
    document = tmp_path / "tutorial.md"
    document.write_text(MINI.format(extra=""), encoding="utf-8")
    origin = Origin("mini", "Mini clamp", "1.0", "0.1.0", code, document)
    files = lay_out(origin, tmp_path / "started")
    assert files == ["README.md", "TUTORIAL.md", "mini.py", "pytest.ini", "tests/test_mini.py"]


def test_the_lookup_of_starters_and_references(tmp_path: Path) -> None:
    caching = find_tutorials()["caching"]
    assert bundled.starter_of(caching) == REPO / "exercises" / "caching"  # a checkout
    assert bundled.reference_of(caching) == REPO / "reference_solutions" / "caching"
    root = tmp_path / "pack"
    source = TutorialSource("hello", root / "hello")
    assert bundled.starter_of(source) is None
    (root / "_bundled" / "exercises" / "hello").mkdir(parents=True)
    assert bundled.starter_of(source) == root / "_bundled" / "exercises" / "hello"
    assert bundled.reference_of(source) is None


@pytest.mark.slow
def test_a_grading_child_never_compares_with_the_shipped_reference(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    caching = find_tutorials()["caching"]
    assert bundled.reference_to_compare(caching) == REPO / "reference_solutions" / "caching"
    monkeypatch.setenv(MARKER_VARIABLE, "run-1")
    assert bundled.reference_to_compare(caching) is None
    mine = pytester.path / "mine"
    shutil.copytree(REPO / "reference_solutions" / "caching", mine)
    report = pytester.path / "report.json"
    pytester.runpytest(
        f"{TUTORIAL}=caching", f"{SOLUTION}={mine}", f"--tutorial-report={report}", "-k", "p95"
    )
    performance = json.loads(report.read_text(encoding="utf-8"))["performance"][0]
    assert performance["reference_p95_ms"] is None  # no reference was measured


def test_grading_hides_the_packaged_references_and_never_feeds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    caching = find_tutorials()["caching"]
    monkeypatch.setattr(bundled, "PACKAGED_ROOT", tmp_path / "_bundled")
    assert tmp_path / "_bundled" / "reference_solutions" not in hidden_roots(caching, [])
    (tmp_path / "_bundled" / "reference_solutions" / "caching").mkdir(parents=True)
    assert tmp_path / "_bundled" / "reference_solutions" in hidden_roots(caching, [])

    with tarfile.open(fileobj=io.BytesIO(feed_archive(caching))) as feed:
        names = feed.getnames()
    assert all(name == "__init__.py" or name.startswith("caching/") for name in names)
    reference = (REPO / "reference_solutions/caching/cache_service.py").read_bytes()
    assert reference not in feed_archive(caching)


def _assert_usage_error(result: pytest.RunResult, *fragments: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    text = result.stderr.str() + result.stdout.str()
    for fragment in fragments:
        assert fragment in text, text
    assert "Traceback" not in text


def test_a_missing_solution_folder_names_the_start_command(pytester: pytest.Pytester) -> None:
    _assert_usage_error(
        pytester.runpytest(f"{TUTORIAL}=caching"),
        "there is no solution folder to check: ",
        "exercises/caching does not exist",
        "lay out the starter code with `pytest-tutorial start caching`",
        f"{SOLUTION}=PATH, the folder holding cache_service.py",
    )
    _assert_usage_error(
        pytester.runpytest(f"{TUTORIAL}=caching", f"{SOLUTION}=nope"),
        f"{SOLUTION}=nope: the solution folder {pytester.path / 'nope'} does not exist",
        "pytest-tutorial start caching",
    )


def test_a_file_given_as_the_solution_gets_its_own_message(pytester: pytest.Pytester) -> None:
    code = pytester.path / "mine" / "cache_service.py"
    code.parent.mkdir()
    code.write_text("x = 1\n", encoding="utf-8")
    _assert_usage_error(
        pytester.runpytest(f"{TUTORIAL}=caching", f"{SOLUTION}=mine/cache_service.py"),
        f"{code} is a file, not a folder",
        f"give the folder that holds cache_service.py: {SOLUTION}={code.parent}",
    )
    pytester.makeini("[pytest]\ntutorial_solution = mine/cache_service.py\n")
    _assert_usage_error(
        pytester.runpytest(f"{TUTORIAL}=caching"),
        f"tutorial_solution = mine/cache_service.py in {pytester.path / 'tox.ini'}",
        "is a file, not a folder",
    )


@pytest.mark.slow
def test_reference_falls_back_to_the_shipped_one_and_says_when_there_is_none(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = pytester.path / "report.json"
    result = pytester.runpytest(
        f"{TUTORIAL}=caching", f"{SOLUTION}=reference", f"--tutorial-report={report}", "-k", "core"
    )
    assert result.ret in (0, 1), result.stdout.str()  # -k: the other items were not run
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["solution"] == {
        "path": str(REPO / "reference_solutions" / "caching"),
        "kind": "reference",
    }
    assert next(i for i in data["checklist"] if i["id"] == "core")["status"] == "passed"

    monkeypatch.setattr(bundled, "CHECKOUT_ROOT", pytester.path / "not-a-checkout")
    _assert_usage_error(
        pytester.runpytest(f"{TUTORIAL}=caching", f"{SOLUTION}=reference"),
        f"{SOLUTION}=reference: there is no reference solution of caching",
        "the installed tutorial ships none",
        "pytest-tutorial start caching",
    )


def test_the_listing_names_the_start_command(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(LIST)
    assert result.ret == 0
    assert "`pytest-tutorial start NAME [DIR]` lays out a tutorial's starter code" in str(
        result.stdout
    )


def test_progress_of_started_folders_is_their_own(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Started folders keep their state in the per-user cache, one entry per folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("one", "two"):
        assert start(pytester.path, "caching", name, capsys=capsys)[0] == 0
    monkeypatch.chdir(pytester.path / "one")
    one = pytester.runpytest_inprocess(f"{TUTORIAL}=caching", "-k", "docstrings")
    assert one.ret == 1
    assert "0/6 items" in pytester.runpytest_inprocess(LIST).stdout.str()
    assert sorted(p.name for p in (pytester.path / "one").iterdir()) == [
        ".pytest_cache",
        *STARTED[:4],
        "tests",
    ]
    progress = json.loads((tmp_path / "cache/pytest-tutorial/progress.json").read_text("utf-8"))
    assert list(progress["tutorials"]["caching"]["solutions"]) == [str(pytester.path / "one")]
    monkeypatch.chdir(pytester.path / "two")
    listed = pytester.runpytest_inprocess(LIST).stdout.str()
    assert next(line for line in listed.splitlines() if line.startswith("caching")).endswith("-")


@pytest.mark.slow
def test_watch_without_a_solution_folder_names_the_start_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest_tutorial", "watch", "caching", "--no-clear"],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "lay out the starter code with `pytest-tutorial start caching`" in result.stdout
    assert "watch: stopped, there is no solution folder to watch" in result.stdout
    given = subprocess.run(
        [sys.executable, "-m", "pytest_tutorial", "watch", "caching", "--solution", "nope"],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert given.returncode == 2
    assert "pytest-tutorial start caching" in given.stdout


@pytest.mark.slow
def test_a_pack_ships_its_own_starter_and_reference(tmp_path: Path) -> None:
    site = tmp_path / "site"
    tutorial = site / "hello_pack" / "hello"
    tutorial.mkdir(parents=True)
    (site / "hello_pack" / "__init__.py").write_text('"""A pack."""\n', encoding="utf-8")
    (tutorial / "tutorial.md").write_text(MINI.format(extra=""), encoding="utf-8")
    (tutorial / "check_hello.py").write_text(CHECKS, encoding="utf-8")
    for kind, code in (("exercises", STARTER), ("reference_solutions", REFERENCE)):
        folder = site / "hello_pack" / "_bundled" / kind / "hello"
        folder.mkdir(parents=True)
        (folder / "mini.py").write_text(code, encoding="utf-8")
    info = site / "hello_pack-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-pack\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[pytest_tutorial.tutorials]\nhello = hello_pack\n")
    env = {**environment(), "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", *args]
        return subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
        )

    for flag, made, status in (("", "hello", 1), ("--reference", "hello-reference", 0)):
        started = run(tmp_path, "pytest_tutorial", "start", "hello", *filter(None, [flag]))
        assert started.returncode == 0, started.stdout
        checked = run(tmp_path / made, "pytest", f"{TUTORIAL}=hello", "-p", "no:cacheprovider")
        assert checked.returncode == status, checked.stdout + checked.stderr
        assert "solution: . (path)" in checked.stdout, checked.stdout  # the started folder


@pytest.mark.slow
def test_watch_reruns_for_a_file_saved_during_its_first_run(tmp_path: Path) -> None:
    """The watcher starts once the first run named the folder: a save before that counts.

    A modification time in the future stands for a save made while the first run went on.
    """
    course = make_course(tmp_path)
    code = course / "exercises" / "mini" / "mini.py"
    later = time.time() + 3600
    os.utime(code, (later, later))
    result = subprocess.run(
        [sys.executable, "-m", "pytest_tutorial", "watch", "mini", "--max-runs", "2", "--no-clear"],
        cwd=course,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    screens = result.stdout.split("pytest-tutorial watch mini: run ")
    assert [screen[:1] for screen in screens[1:]] == ["1", "2"]
    assert "changed: mini.py" in screens[2]
