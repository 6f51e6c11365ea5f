"""The installed package is a complete product: from a wheel, in an empty folder.

Once per module: the project's sources are copied to a temporary folder, built into an
sdist (when setuptools is importable) and from it into a wheel (``pip wheel``, offline
apart from the registries pip is set up with), unless ``PYTEST_TUTORIAL_WHEEL`` names a
wheel built already (CI's); the wheel is installed with ``--no-deps`` into a fresh venv.
That venv gets this environment's dependencies as hard links (not the editable install of
this checkout), so it is made in a second and the grading sandbox, which binds the venv,
can read them.

Then, in empty folders: ``pytest-tutorial start caching`` and ``pytest --tutorial=caching``
give a checklist with every automated item failing; ``--reference`` gives a validated run;
``--tutorial-list`` and every "does not exist" error name the start command; ``watch``
works from the started folder; and a sandboxed grading cannot read the packaged reference.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, validate_report

pytestmark = [pytest.mark.slow, pytest.mark.wheel]

SOURCES = ("pyproject.toml", "setup.py", "README.md", "pytest_tutorial", "exercises")
SOURCES_TOO = ("reference_solutions",)
LITTER = shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "*.egg-info", "build", "dist")
NOT_DEPENDENCIES = ("pytest_tutorial", "__editable__")
"""This checkout's editable install, left out of the venv's dependencies."""
STARTED = {"README.md", "TUTORIAL.md", "cache_service.py", "pytest.ini", "tests"}


@dataclass(frozen=True)
class Installed:
    """The wheel, and the venv it is installed in."""

    wheel: Path
    sdist: Path | None
    venv: Path
    site: Path
    hardlinked: bool
    """Dependencies are hard links (readable inside the sandbox), not symbolic ones."""
    cache: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def env(self) -> dict[str, str]:
        """A learner's shell: the venv first on PATH, nothing of this test run's settings."""
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("PYTEST_ADDOPTS", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")
        }
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["XDG_CACHE_HOME"] = str(self.cache)
        return env

    def run(
        self, cwd: Path, *command: str, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` (a program of the venv's bin/) in ``cwd``."""
        program = str(self.venv / "bin" / command[0])
        return subprocess.run(
            [program, *command[1:]],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


def _build(root: Path) -> tuple[Path, Path | None]:
    """The sdist (None without setuptools here) and the wheel built from it."""
    source = root / "source"
    source.mkdir()
    for name in (*SOURCES, *SOURCES_TOO):
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=LITTER)
        else:
            shutil.copy(path, source / name)
    dist = root / "dist"
    sdist: Path | None = None
    if importlib.util.find_spec("setuptools") is not None:
        made = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from setuptools import build_meta as b; "
                "print(b.build_sdist(sys.argv[1]))",
                str(dist),
            ],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        sdist = dist / made.stdout.strip().splitlines()[-1]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "--quiet", "--no-deps", "-w", str(dist), str(sdist or source)],
        capture_output=True,
        timeout=600,
        check=True,
    )
    return next(dist.glob("pytest_tutorial-*.whl")), sdist


def _venv(root: Path, wheel: Path) -> tuple[Path, Path, bool]:
    """A fresh venv with this environment's dependencies (linked) and the wheel installed."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    hardlinked = True
    ours = Path(sysconfig.get_paths()["purelib"])
    for entry in sorted(ours.iterdir()):
        if entry.name.startswith(NOT_DEPENDENCIES) or entry.suffix == ".pth":
            continue
        try:
            _link(entry, site / entry.name)
        except OSError:  # another file system: symbolic links (the sandbox cannot follow them)
            hardlinked = False
            (site / entry.name).symlink_to(entry)
    subprocess.run(
        [
            sys.executable,
            *("-m", "pip", "--disable-pip-version-check", "--python", str(python)),
            *("install", "--quiet", "--no-deps", "--no-index", str(wheel)),
        ],
        capture_output=True,
        timeout=300,
        check=True,
    )
    # pip writes this script in a full install; the dependencies here are only linked.
    script = venv / "bin" / "pytest"
    script.write_text(
        f"#!{python}\nimport sys\nfrom pytest import console_main\nsys.exit(console_main())\n"
    )
    script.chmod(0o755)
    return venv, site, hardlinked


def _link(source: Path, target: Path) -> None:
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True, copy_function=os.link)
    else:
        os.link(source, target, follow_symlinks=False)


WHEEL_VARIABLE = "PYTEST_TUTORIAL_WHEEL"
"""A wheel built already (``.ci/run`` sets it): tested as it is, instead of one built here."""
SDIST_VARIABLE = "PYTEST_TUTORIAL_SDIST"
"""The sdist that wheel was built from, if any."""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("installed")
    given = os.environ.get(WHEEL_VARIABLE)
    if given:
        wheel = Path(given)
        sdist = Path(os.environ[SDIST_VARIABLE]) if os.environ.get(SDIST_VARIABLE) else None
    else:
        wheel, sdist = _build(root)
    venv, site, hardlinked = _venv(root, wheel)
    return Installed(wheel, sdist, venv, site, hardlinked, root / "cache")


def _automated(report: dict[str, Any]) -> dict[str, str]:
    return {item["id"]: item["status"] for item in report["checklist"] if item["automated"]}


def test_the_wheel_and_the_sdist_ship_starters_and_references(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    bundled = {name for name in names if name.startswith("pytest_tutorial/_bundled/")}
    for tutorial in ("caching", "batch_processor", "object_store", "rate_limiter"):
        for path in (REPO / "exercises" / tutorial).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                relative = path.relative_to(REPO).as_posix()
                assert f"pytest_tutorial/_bundled/{relative}" in bundled
        reference = f"pytest_tutorial/_bundled/reference_solutions/{tutorial}/tests/"
        assert any(name.startswith(reference) for name in bundled)
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    assert not any(name.startswith(("exercises/", "reference_solutions/")) for name in names)
    if installed.sdist is not None:  # the wheel was built from it, so it ships them too
        assert installed.sdist.name.endswith(".tar.gz")


def test_a_learner_gets_the_starter_and_a_checklist_in_two_commands(
    installed: Installed, tmp_path: Path
) -> None:
    where = installed.run(
        tmp_path, "python", "-c", "import pytest_tutorial as p; print(p.__file__)"
    )
    assert where.stdout.startswith(str(installed.site)), where.stdout + where.stderr

    started = installed.run(tmp_path, "pytest-tutorial", "start", "caching")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "  cd caching\n  pytest --tutorial=caching\n" in started.stdout
    folder = tmp_path / "caching"
    checked = installed.run(folder, "pytest", "--tutorial=caching")
    output = checked.stdout + checked.stderr
    assert checked.returncode == 1, output
    assert "Validation Checklist" in output
    assert "warnings summary" not in output
    report = json.loads(
        (installed.cache / "pytest-tutorial/reports/caching.json").read_text(encoding="utf-8")
    )
    validate_report(report)
    assert report["solution"] == {"path": str(folder), "kind": "path"}
    statuses = _automated(report)
    assert len(statuses) == 6
    assert set(statuses.values()) <= {"failed", "error"}, statuses

    # Nothing but the learner's files and pytest's own cache; no bytecode either.
    assert {path.name for path in folder.iterdir()} == {*STARTED, ".pytest_cache"}
    assert not [path for path in folder.rglob("*") if path.name == "__pycache__"]

    own = installed.run(folder, "pytest", "-q", "-p", "no:cacheprovider")
    assert own.returncode == 1, own.stdout
    assert "NotImplementedError" in own.stdout
    assert "ModuleNotFoundError" not in own.stdout


def test_the_reference_laid_out_is_validated(installed: Installed, tmp_path: Path) -> None:
    started = installed.run(tmp_path, "pytest-tutorial", "start", "caching", "--reference")
    assert started.returncode == 0, started.stdout + started.stderr
    checked = installed.run(tmp_path / "caching-reference", "pytest", "--tutorial=caching")
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr
    assert "verdict: VALIDATED" in checked.stdout


def test_the_reference_option_uses_the_packaged_reference(
    installed: Installed, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    checked = installed.run(
        tmp_path,
        *("pytest", "--tutorial=caching", "--tutorial-solution=reference"),
        *(f"--tutorial-report={report}", "-k", "core or p95"),
    )
    data = json.loads(report.read_text(encoding="utf-8"))
    packaged = installed.site / "pytest_tutorial/_bundled/reference_solutions/caching"
    assert data["solution"] == {"path": str(packaged), "kind": "reference"}, checked.stdout
    assert _automated(data)["core"] == "passed"
    entry = data["performance"][0]
    # the packaged reference is the comparison's too: no note says none was found (it is
    # measured once a round of the learner's is over the floor, which decides below it)
    assert entry["note"] == "", entry["note"]
    assert entry["decided_by"] in ("floor", "relative"), entry


def test_the_listing_and_every_missing_folder_name_the_start_command(
    installed: Installed, tmp_path: Path
) -> None:
    listing = installed.run(tmp_path, "pytest", "--tutorial-list")
    assert listing.returncode == 0
    assert "`pytest-tutorial start NAME [DIR]`" in listing.stdout

    for option in ([], ["--tutorial-solution=nope"]):
        missing = installed.run(tmp_path, "pytest", "--tutorial=caching", *option)
        assert missing.returncode == 4
        assert "pytest-tutorial start caching" in missing.stderr
        assert "Traceback" not in missing.stderr
    watch = installed.run(tmp_path, "pytest-tutorial", "watch", "caching", "--no-clear")
    assert watch.returncode == 2
    assert "pytest-tutorial start caching" in watch.stdout


def test_watch_runs_from_the_started_folder(installed: Installed, tmp_path: Path) -> None:
    assert installed.run(tmp_path, "pytest-tutorial", "start", "caching", "mine").returncode == 0
    folder = tmp_path / "mine"
    watch = installed.run(
        folder, "pytest-tutorial", "watch", "caching", "--max-runs", "1", "--no-clear"
    )
    assert watch.returncode == 0, watch.stdout + watch.stderr
    assert "Validation Checklist  [------------] 0/6 items passed" in watch.stdout
    assert f"watching {folder} for changes" in watch.stdout
    assert {path.name for path in folder.iterdir()} == STARTED


PROBE = """
import os as _os
import pytest_tutorial as _package

_root = _os.path.join(_os.path.dirname(_package.__file__), "_bundled")


def _can_read(path):
    try:
        open(path, "rb").close()
        return "readable"
    except OSError:
        return "hidden"


raise RuntimeError(
    "probe: "
    f"package={_can_read(_os.path.join(_root, '..', '__init__.py'))} "
    f"starter={_can_read(_os.path.join(_root, 'exercises/caching/cache_service.py'))} "
    f"reference={_can_read(_os.path.join(_root, 'reference_solutions/caching/cache_service.py'))}"
)
"""


def test_a_sandboxed_submission_cannot_read_the_packaged_reference(
    installed: Installed, tmp_path: Path
) -> None:
    if shutil.which("bwrap") is None:
        pytest.skip("needs bubblewrap")
    if not installed.hardlinked:
        pytest.skip("the venv's dependencies are symbolic links the sandbox cannot follow")
    submission = tmp_path / "probe"
    shutil.copytree(REPO / "exercises" / "caching", submission, ignore=LITTER)
    (submission / "cache_service.py").write_text(PROBE, encoding="utf-8")
    out = tmp_path / "out"
    graded = installed.run(
        tmp_path,
        *("pytest-tutorial", "grade", "--tutorial", "caching", "--out", str(out)),
        *("--sandbox", "bwrap", "-k", "core", "--timeout", "120", "--quiet", str(submission)),
    )
    assert graded.returncode in (0, 1), graded.stdout + graded.stderr
    report = json.loads((out / "submissions" / "probe" / "report.json").read_text(encoding="utf-8"))
    assert report["grading"]["sandbox"] == "bubblewrap"
    messages = " ".join(
        str(check.get("message") or "") for item in report["checklist"] for check in item["checks"]
    )
    assert "probe: package=readable starter=readable reference=hidden" in messages, messages
