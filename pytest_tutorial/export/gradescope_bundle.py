"""``autograder.zip``: the files Gradescope's autograder settings take as they are.

At the zip's root (``/autograder/source`` on Gradescope):

- ``setup.sh``: run once when Gradescope builds the image, as root: bubblewrap where the
  image allows, a Python 3.11 or newer, and this package pinned (:mod:`.package`) in a
  virtual environment, ``ROOT/pytest-tutorial-venv``;
- ``run_autograder``: run per submission: :mod:`.gradescope_run` grades
  ``/autograder/submission`` and writes ``/autograder/results/results.json``; if even that
  cannot start, the script itself writes a score of 0 that says so;
- ``pytest-tutorial-export.json``: the tutorial and the choices of the export;
- ``constraints.txt``, ``wheels/`` (a wheel of this package, when it is carried) and
  ``tutorials/NAME/`` (a tutorial this package does not carry);
- ``README.md``: what the bundle is, for whoever opens it.
"""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .gradescope_run import ROOT_VARIABLE
from .gradescope_settings import SETTINGS_NAME, TUTORIALS_FOLDER, WHEELS_FOLDER, Settings
from .package import CONSTRAINTS_NAME, Pin
from .tutorial_files import Exported

VENV_FOLDER = "pytest-tutorial-venv"
"""The virtual environment setup.sh makes under ROOT, and run_autograder uses."""
_EXECUTABLE = 0o755
_REGULAR = 0o644

SETUP = """#!/usr/bin/env bash
# setup.sh of the pytest-tutorial autograder for tutorial {name}, exported by
# pytest-tutorial {version}. Gradescope runs it once, as root, while it builds the
# autograder's image: it installs bubblewrap where the image allows it, a Python 3.11 or
# newer, and pytest-tutorial {version} (pinned: {requirement_note}; its dependencies at
# the versions of constraints.txt) into a virtual environment that run_autograder uses.
# Grading needs no network after this.
set -euo pipefail

SOURCE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
# {root_variable} is for pytest-tutorial's own tests only (a folder standing in for /autograder).
ROOT="${{{root_variable}:-/autograder}}"
VENV="$ROOT/{venv}"
export DEBIAN_FRONTEND=noninteractive

apt_install() {{
    apt-get install -y --no-install-recommends "$@" >/dev/null
}}

usable_python() {{
    "$1" -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}}

apt-get update -qq >/dev/null || echo "setup.sh: apt-get update failed; using the package lists there are"
if ! apt_install bubblewrap; then
    echo "setup.sh: note: bubblewrap could not be installed: submissions will run with resource limits only"
fi
apt_install python3 python3-venv python3-pip || echo "setup.sh: note: could not install python3-venv"

PYTHON=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && usable_python "$candidate"; then
        PYTHON="$(command -v "$candidate")"
        break
    fi
done
if [ -z "$PYTHON" ]; then
    apt_install python3.11 python3.11-venv || true
    if usable_python python3.11; then
        PYTHON="$(command -v python3.11)"
    fi
fi
if [ -z "$PYTHON" ]; then
    echo "setup.sh: error: no Python 3.11 or newer with venv could be installed; choose a newer Ubuntu base image in the assignment's autograder settings" >&2
    exit 1
fi

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet --constraint "$SOURCE/{constraints}" "{requirement}"
chmod -R a+rX "$VENV"
"$VENV/bin/python" -m pytest_tutorial --version
echo "setup.sh: pytest-tutorial {version} is installed in $VENV"
"""  # noqa: E501

RUN = """#!/usr/bin/env bash
# run_autograder of the pytest-tutorial autograder for tutorial {name}, exported by
# pytest-tutorial {version}. Gradescope runs it for each submission: it grades
# /autograder/submission with `pytest-tutorial grade` and writes
# /autograder/results/results.json, in every case: when the grader itself cannot run,
# a score of 0 that says so. Its output is shown to instructors only.
# {root_variable} is for pytest-tutorial's own tests only (a folder standing in for /autograder).
ROOT="${{{root_variable}:-/autograder}}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
"$ROOT/{venv}/bin/python" -m pytest_tutorial.export.gradescope_run "$ROOT"
status=$?
if [ ! -s "$RESULTS" ]; then
    echo "run_autograder: the grader exited with status $status and wrote no results.json"
    cat > "$RESULTS" <<'JSON'
{{"score": 0, "execution_time": 0, "output": "The autograder could not run, so this submission was not graded. This is a problem of the autograder, not of your code: tell your instructor, and submit again later.", "visibility": "visible", "stdout_visibility": "hidden", "tests": []}}
JSON
fi
exit 0
"""  # noqa: E501

README = """# Gradescope autograder: {title}

Exported by `pytest-tutorial export gradescope {name}` (pytest-tutorial {version}, tutorial
version {tutorial_version}). Upload this zip as it is in the assignment's "Configure
Autograder" page (a programming assignment, Ubuntu base image, 22.04 or newer).

- `setup.sh` installs bubblewrap, Python 3.11 or newer and pytest-tutorial {version}
  ({requirement_note}) once, when Gradescope builds the image.
- `run_autograder` grades each submission with `pytest-tutorial grade` and writes
  `/autograder/results/results.json`: a test per check, scored by its points.
- `{settings}` holds the choices of the export (visibility: {visibility}; hidden
  checklist items: {hidden}; messages of checks not visible hidden: {hide_messages};
  wall-clock limit {timeout:g} s; sandbox {sandbox}).

Export again to change any of these; see pytest-tutorial's docs/ci.md.
"""


@dataclass(frozen=True)
class Bundle:
    """What went into an autograder.zip."""

    path: Path
    files: tuple[str, ...]


def _requirement_note(pin: Pin) -> str:
    if pin.wheel is None:
        return f"pytest-tutorial=={pin.version} from the package index"
    return f"the wheel in {WHEELS_FOLDER}/, built when this bundle was exported"


def entries(exported: Exported, settings: Settings, pin: Pin) -> dict[str, tuple[bytes, int]]:
    """Every file of the bundle but the wheel and the tutorial: name -> (content, mode)."""
    fields = {
        "name": exported.source.id,
        "version": pin.version,
        "root_variable": ROOT_VARIABLE,
        "venv": VENV_FOLDER,
        "constraints": CONSTRAINTS_NAME,
        "requirement": pin.requirement(f"$SOURCE/{WHEELS_FOLDER}"),
        "requirement_note": _requirement_note(pin),
    }
    readme = README.format(
        title=exported.tutorial.metadata.title,
        tutorial_version=exported.tutorial.metadata.version,
        settings=SETTINGS_NAME,
        visibility=settings.visibility.value,
        hidden=", ".join(settings.hidden_items) or "none",
        hide_messages="yes" if settings.hide_messages else "no",
        timeout=settings.timeout_s,
        sandbox=settings.sandbox,
        **fields,
    )
    return {
        "setup.sh": (SETUP.format(**fields).encode(), _EXECUTABLE),
        "run_autograder": (RUN.format(**fields).encode(), _EXECUTABLE),
        SETTINGS_NAME: (settings.to_json().encode(), _REGULAR),
        CONSTRAINTS_NAME: (pin.constraints.encode(), _REGULAR),
        "README.md": (readme.encode(), _REGULAR),
    }


def write(exported: Exported, settings: Settings, pin: Pin, target: Path) -> Bundle:
    """Write the zip to ``target`` atomically (an older one there is replaced)."""
    files = dict(entries(exported, settings, pin))
    if pin.wheel is not None:
        files[f"{WHEELS_FOLDER}/{pin.wheel.name}"] = (pin.wheel.read_bytes(), _REGULAR)
    if settings.carries_tutorial:
        folder = exported.source.directory
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_file() and not _litter(relative):
                name = f"{TUTORIALS_FOLDER}/{exported.source.id}/{relative.as_posix()}"
                files[name] = (path.read_bytes(), _REGULAR)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, (content, mode) in files.items():
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, content)
        os.chmod(temporary, _REGULAR)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Bundle(path=target, files=tuple(files))


def _litter(relative: Path) -> bool:
    from pytest_tutorial.bundled import is_litter

    return is_litter(relative)
