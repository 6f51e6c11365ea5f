"""What an exported autograder's ``run_autograder`` runs: grade one Gradescope submission.

``python -m pytest_tutorial.export.gradescope_run ROOT`` grades ``ROOT/submission`` with
``pytest-tutorial grade`` (the tutorial and options from the bundle's settings in
``ROOT/source``), then writes ``ROOT/results/results.json`` from grade's Gradescope file
(:mod:`.gradescope_results`). It always writes a ``results.json``: when grading cannot
give one (no submission, a grader that fails or hangs), a score of 0 with a message. What
grade prints goes to standard output, which Gradescope shows to instructors only.

ROOT is ``/autograder`` on Gradescope; ``run_autograder`` passes another only when the
test-only variable :data:`ROOT_VARIABLE` is set (the project's tests, with a temporary
folder laid out like Gradescope's).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from pytest_tutorial.grading.outputs import GRADESCOPE_NAME, SUBMISSIONS_DIR, write_text

from . import gradescope_results
from .gradescope_settings import SETTINGS_NAME, TUTORIALS_FOLDER, SettingsError, read

ROOT_VARIABLE = "PYTEST_TUTORIAL_AUTOGRADER_ROOT"
"""Test-only: the folder standing in for ``/autograder``."""
SUBMISSION = "submission"
"""The folder of ROOT holding the submission, and so its id in grade's output."""
SANDBOX_NOTE = (
    "this grading machine cannot run bubblewrap, so your code ran with resource limits only "
    "(the instructor's log says why); the checks and their points are the same"
)
GRACE_S = 120.0
"""How long past its own wall-clock limit the grader may take before it is stopped."""
ASK_INSTRUCTOR = (
    "This is a problem of the autograder, not of your code: tell your instructor, "
    "and submit again later."
)


def results_path(root: Path) -> Path:
    """Where Gradescope reads the results."""
    return root / "results" / "results.json"


def grade_command(
    root: Path, out: Path, *, tutorial: str, timeout_s: float, sandbox: str, carries_tutorial: bool
) -> list[str]:
    """The ``pytest-tutorial grade`` command line for ``ROOT/submission``."""
    command = [sys.executable, "-m", "pytest_tutorial", "grade", "--tutorial", tutorial]
    command += ["--out", str(out), "--timeout", f"{timeout_s:g}", "--sandbox", sandbox]
    if carries_tutorial:
        command += ["--tutorial-path", str(root / "source" / TUTORIALS_FOLDER)]
    return [*command, str(root / SUBMISSION)]


def run(root: Path) -> dict[str, Any]:
    """Grade ``ROOT/submission``; returns the results to write (never raises for grading)."""
    started = time.monotonic()
    try:
        settings = read(root / "source" / SETTINGS_NAME)
    except SettingsError as error:
        print(f"error: {error}", flush=True)
        return gradescope_results.failure(f"The autograder is not set up right. {ASK_INSTRUCTOR}")
    submission = root / SUBMISSION
    if not submission.is_dir() or not any(submission.iterdir()):
        return gradescope_results.failure(
            f"Nothing was submitted: the submission is empty. Upload the files of your "
            f"solution (for {settings.tutorial}: your code and its tests/ folder), then the "
            "autograder runs again."
        )
    with tempfile.TemporaryDirectory(prefix="pytest-tutorial-grades-") as scratch:
        out = Path(scratch, "grades")
        command = grade_command(
            root,
            out,
            tutorial=settings.tutorial,
            timeout_s=settings.timeout_s,
            sandbox=settings.sandbox,
            carries_tutorial=settings.carries_tutorial,
        )
        print("$ " + " ".join(command), flush=True)
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=settings.timeout_s + GRACE_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return gradescope_results.failure(
                f"The grader did not finish within {settings.timeout_s + GRACE_S:g} s. "
                + ASK_INSTRUCTOR,
                execution_time=time.monotonic() - started,
            )
        print(done.stdout, end="", flush=True)
        print(done.stderr, end="", flush=True)
        found = sorted((out / SUBMISSIONS_DIR).glob(f"*/{GRADESCOPE_NAME}"))
        if not found:
            return gradescope_results.failure(
                f"The grader gave no result (exit status {done.returncode}). " + ASK_INSTRUCTOR,
                execution_time=time.monotonic() - started,
            )
        results: dict[str, Any] = json.loads(found[0].read_text(encoding="utf-8"))
    return gradescope_results.shape(results, settings, notes(done.stderr))


def notes(stderr: str) -> list[str]:
    """Grade's warnings, for the student: about the submission, and a sandbox fallback.

    The sandbox warning (bubblewrap cannot run in this container) is said briefly; its
    full text is in the standard output, for instructors.
    """
    said = []
    for line in stderr.splitlines():
        if not line.startswith("warning: "):
            continue
        text = line.removeprefix("warning: ")
        if text.startswith(f"{SUBMISSION}: "):
            said.append(text.removeprefix(f"{SUBMISSION}: "))
        else:
            said.append(SANDBOX_NOTE)
    return said


def main(argv: list[str] | None = None) -> int:
    """Grade and write ``results.json``; 0 once it is written, 1 when it could not be."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else "/autograder")
    try:
        results = run(root)
    except Exception:  # the student must still get a result; the instructor the traceback
        traceback.print_exc()
        results = gradescope_results.failure(f"The autograder failed. {ASK_INSTRUCTOR}")
    try:
        write_text(results_path(root), json.dumps(results, indent=2) + "\n")
    except OSError as error:
        print(f"error: cannot write {results_path(root)}: {error}", file=sys.stderr)
        return 1
    print(f"results: {results_path(root)}: {results.get('score')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
