"""How an export pins this package: a wheel built at export time, or the index's release.

``wheel`` builds a wheel of this package from the checkout it is imported from and puts it
in the export, so grading installs exactly the code the instructor exported (also a version
the index has never seen); ``index`` pins ``pytest-tutorial==VERSION`` from the package
index; ``auto`` is ``wheel`` from a checkout and ``index`` from an installed release.
Either way a ``constraints.txt`` pins every dependency at the version installed where the
export was made, so grading runs with the libraries the instructor's checks ran with.
"""

from __future__ import annotations

import enum
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from pytest_tutorial.bundled import CHECKOUT_ROOT, is_checkout, is_litter

DISTRIBUTION = "pytest-tutorial"
CONSTRAINTS_NAME = "constraints.txt"
_BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "pytest_tutorial")
_SHIPPED = ("exercises", "reference_solutions")
_WHEEL_BUILD_TIMEOUT_S = 600


class PackageMode(enum.Enum):
    """Where the grading machine gets this package from."""

    AUTO = "auto"
    WHEEL = "wheel"
    INDEX = "index"


class ExportError(Exception):
    """An export that cannot be made; the message names what and how to fix it."""


@dataclass(frozen=True)
class Pin:
    """What an export installs: the requirement, the wheel it names (if any), constraints."""

    version: str
    wheel: Path | None
    """A wheel built for this export, in a temporary folder the caller removes."""
    constraints: str

    def requirement(self, wheel_folder: str) -> str:
        """The argument of ``pip install``: the wheel in ``wheel_folder``, or the release."""
        if self.wheel is None:
            return f"{DISTRIBUTION}=={self.version}"
        return f"{wheel_folder}/{self.wheel.name}"


def resolve(mode: PackageMode, version: str, build_dir: Path) -> Pin:
    """The pin of this export; builds the wheel into ``build_dir`` when one is carried."""
    chosen = mode
    if mode is PackageMode.AUTO:
        chosen = PackageMode.WHEEL if is_checkout() else PackageMode.INDEX
    wheel = None
    if chosen is PackageMode.WHEEL:
        if not is_checkout():
            raise ExportError(
                "--package wheel: this pytest-tutorial is an installed release, not a "
                f"checkout, so there is no source to build a wheel from; use --package index "
                f"(it pins {DISTRIBUTION}=={version} from the package index)"
            )
        wheel = build_wheel(CHECKOUT_ROOT, build_dir)
    return Pin(version=version, wheel=wheel, constraints=constraints_text())


def build_wheel(checkout: Path, build_dir: Path) -> Path:
    """A wheel of the checkout, built from a clean copy (the checkout gets no ``build/``)."""
    with tempfile.TemporaryDirectory(prefix="pytest-tutorial-wheel-") as scratch:
        source = Path(scratch, "source")
        for name in (*_BUILD_INPUTS, *_SHIPPED):
            path = checkout / name
            if path.is_dir():
                shutil.copytree(path, source / name, ignore=_ignore_litter)
            elif path.is_file():
                source.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, source / name)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
        command += ["--wheel-dir", str(build_dir), str(source)]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=_WHEEL_BUILD_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ExportError(f"building the wheel of {checkout} failed: {error}") from None
    wheels = sorted(build_dir.glob("pytest_tutorial-*.whl"))
    if done.returncode != 0 or not wheels:
        detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise ExportError(
            f"building the wheel of {checkout} failed (pip wheel exit status "
            f"{done.returncode}): {' / '.join(detail)}; fix the build, or export with "
            "--package index to pin the released version instead"
        )
    return wheels[-1]


def _ignore_litter(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if is_litter(Path(name))]


def constraints_text() -> str:
    """``name==version`` for every installed dependency of this package, recursively."""
    pins: dict[str, str] = {}
    pending = [DISTRIBUTION]
    while pending:
        name = pending.pop()
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for requirement in distribution.requires or []:
            if "extra ==" in requirement.replace('"', " ").replace("'", " "):
                continue
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
            if match is None:
                continue
            key = _normal(match.group(0))
            if key in pins or key == _normal(DISTRIBUTION):
                continue
            try:
                pins[key] = metadata.version(key)
            except metadata.PackageNotFoundError:
                continue
            pending.append(key)
    lines = [
        "# The versions pytest-tutorial's dependencies had where this export was made;",
        "# pip installs these, so grading runs with the libraries the checks ran with.",
        *(f"{name}=={version}" for name, version in sorted(pins.items())),
    ]
    return "\n".join(lines) + "\n"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
