"""A third-party tutorial pack, installed with pip into a temporary folder, is listed and runs.

The pack is the minimal one docs/authoring.md shows: a package whose folder holds tutorial
folders, named by an entry point of the group ``pytest_tutorial.tutorials``. No build
backend may be reachable offline, so the test packs the wheel itself (a wheel is a zip with
a ``.dist-info``) and has pip install it with ``--target`` into a temporary folder; the
child processes see it through PYTHONPATH. The shared environment is left unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.commands import environment
from tests.mini_course import CHECKS, REFERENCE, TUTORIAL

PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "hello-pack"
version = "0.1.0"
dependencies = ["pytest-tutorial"]

[project.entry-points."pytest_tutorial.tutorials"]
hello = "hello_pack"

[tool.setuptools.package-data]
"*" = ["*/tutorial.md"]
"""


def build_wheel(source: Path, dist: Path) -> Path:
    """Pack ``source`` (a pyproject folder holding ``hello_pack/``) as a pure-Python wheel."""
    info = "hello_pack-0.1.0.dist-info"
    files = {
        path.relative_to(source).as_posix(): path.read_bytes()
        for path in sorted((source / "hello_pack").rglob("*"))
        if path.is_file()
    }
    files[f"{info}/METADATA"] = b"Metadata-Version: 2.1\nName: hello-pack\nVersion: 0.1.0\n"
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files[f"{info}/entry_points.txt"] = b"[pytest_tutorial.tutorials]\nhello = hello_pack\n"
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = dist / "hello_pack-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


@pytest.fixture(scope="module")
def installed_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pack pip-installed into a folder of its own; returns that folder."""
    root = tmp_path_factory.mktemp("pack")
    source = root / "hello-pack"
    tutorial = source / "hello_pack" / "hello"
    tutorial.mkdir(parents=True)
    (source / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (source / "hello_pack" / "__init__.py").write_text('"""Tutorials of the hello pack."""\n')
    (tutorial / "tutorial.md").write_text(
        TUTORIAL.format(extra="").replace("Mini clamp", "Hello pack clamp"), encoding="utf-8"
    )
    (tutorial / "check_hello.py").write_text(CHECKS, encoding="utf-8")
    wheel = build_wheel(source, root)
    site = root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert (site / "hello_pack-0.1.0.dist-info" / "entry_points.txt").is_file()
    return site


def run(cwd: Path, site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**environment(), "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_an_installed_pack_is_listed_and_runs(installed_pack: Path, tmp_path: Path) -> None:
    listing = run(tmp_path, installed_pack, "--tutorial-list")
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert any(
        line.split()[:3] == ["hello", "Hello", "pack"] for line in listing.stdout.splitlines()
    )
    assert "caching" in listing.stdout  # the bundled ones are still there

    solution = tmp_path / "solution"
    solution.mkdir()
    (solution / "mini.py").write_text(REFERENCE, encoding="utf-8")
    report = tmp_path / "report.json"
    result = run(
        tmp_path,
        installed_pack,
        "--tutorial=hello",
        f"--tutorial-solution={solution}",
        f"--tutorial-report={report}",
    )
    assert result.returncode == 0, result.stdout
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["verdict"] == "validated"
    assert data["tutorial"]["path"].startswith(str(installed_pack))
    # not installed in the shared environment
    assert "hello" not in run(tmp_path, tmp_path, "--tutorial-list").stdout.split()


@pytest.mark.slow
def test_a_pack_naming_a_missing_module_is_a_usage_error(tmp_path: Path) -> None:
    info = tmp_path / "broken_pack-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-pack\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pytest_tutorial.tutorials]\nbroken = no_such_pack\n")
    result = run(tmp_path, tmp_path, "--tutorial-list")
    assert result.returncode == 4
    assert "tutorial pack 'broken = no_such_pack'" in result.stderr
    assert "from broken-pack" in result.stderr
    assert "reinstall broken-pack" in result.stderr
