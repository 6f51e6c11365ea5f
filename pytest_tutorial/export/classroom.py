"""A GitHub Classroom starter repository: the starter, and a workflow that grades each push.

``pytest-tutorial export github-classroom NAME --out DIR`` lays out DIR as ``pytest-tutorial
start NAME DIR`` does (the starter code, its ``tests/``, ``TUTORIAL.md``, ``README.md``,
``pytest.ini``) and adds:

- ``.github/workflows/classroom.yml``: on each push it installs this package (pinned),
  grades the repository with ``pytest-tutorial grade``, writes the checklist to the job
  summary and the points to the ``result`` output of the grading step
  (:mod:`.classroom_report`), which GitHub Classroom's autograding reporter action
  (``classroom-resources/autograding-grading-reporter``) sums and posts as
  "Points X/Y" on the job's check run, named "Autograding Tests", where Classroom reads it;
- ``.github/pytest-tutorial/``: ``constraints.txt``, and the wheel of this package or the
  tutorial's folder when the export carries them. The workflow moves this folder out of the
  repository before grading, so it is never part of what is graded.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pytest_tutorial.start.layout import Origin, lay_out

from .package import CONSTRAINTS_NAME, Pin
from .tutorial_files import Exported, copy_folder

WORKFLOW = Path(".github", "workflows", "classroom.yml")
SUPPORT = Path(".github", "pytest-tutorial")
"""The export's files in the repository (moved to ``$RUNNER_TEMP`` before grading)."""
STEP_ID = "checklist"
"""The grading step's id: the reporter reads ``CHECKLIST_RESULTS``."""
CHECK_RUN_NAME = "Autograding Tests"
"""The job's name: the reporter posts the points on the check run of this name."""
PYTHON_VERSION = "3.12"

WORKFLOW_TEXT = """# Written by `pytest-tutorial export github-classroom {name}`
# (pytest-tutorial {version}).
# Grades each push with `pytest-tutorial grade`, shows the checklist as the job summary,
# and reports the points to GitHub Classroom: the grading step's `result` output is read
# by the autograding reporter, which posts "Points X/Y" on the "{check_run}" check run.
name: {check_run}
"on":
  push:
  workflow_dispatch:
  repository_dispatch:
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    name: {check_run}
    runs-on: ubuntu-24.04
    timeout-minutes: {job_minutes}
    if: github.actor != 'github-classroom[bot]'
    steps:
      - name: Check out the submission
        uses: actions/checkout@v4
      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "{python}"
      - name: Install bubblewrap and pytest-tutorial {version}
        run: |
          mv .github/pytest-tutorial "$RUNNER_TEMP/pytest-tutorial"
          sudo apt-get update -qq && sudo apt-get install -y bubblewrap \\
            || echo "::warning::no bubblewrap: grading runs with resource limits only"
          python -m pip install \\
            --constraint "$RUNNER_TEMP/pytest-tutorial/{constraints}" "{requirement}"
      - name: Grade with pytest-tutorial
        id: {step_id}
        run: |
          sudo "$(command -v python)" -m pytest_tutorial grade --tutorial {name} \\
            --out "$RUNNER_TEMP/grades" --timeout {timeout:g} --sandbox {sandbox}{tutorial_path} \\
            "$GITHUB_WORKSPACE" || echo "pytest-tutorial grade exited with status $?"
          python -m pytest_tutorial.export.classroom_report "$RUNNER_TEMP/grades"
      - name: Report the points to GitHub Classroom
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
          {env_name}: "${{{{ steps.{step_id}.outputs.result }}}}"
        with:
          runners: {step_id}
"""


def workflow_text(exported: Exported, pin: Pin, *, timeout_s: float, sandbox: str) -> str:
    """The workflow file's text."""
    tutorial_path = ""
    if exported.carried:
        tutorial_path = ' --tutorial-path "$RUNNER_TEMP/pytest-tutorial/tutorials"'
    return WORKFLOW_TEXT.format(
        name=exported.source.id,
        version=pin.version,
        check_run=CHECK_RUN_NAME,
        job_minutes=max(10, int(timeout_s // 60) + 10),
        python=PYTHON_VERSION,
        constraints=CONSTRAINTS_NAME,
        requirement=pin.requirement("$RUNNER_TEMP/pytest-tutorial/wheels"),
        step_id=STEP_ID,
        timeout=timeout_s,
        sandbox=sandbox,
        tutorial_path=tutorial_path,
        env_name=f"{STEP_ID.upper()}_RESULTS",
    )


def write(
    exported: Exported, pin: Pin, target: Path, *, timeout_s: float, sandbox: str, starter: Path
) -> list[str]:
    """Lay out ``target`` (absent or empty); returns its files, relative to it."""
    from pytest_tutorial import __version__

    metadata = exported.tutorial.metadata
    origin = Origin(
        name=exported.source.id,
        title=metadata.title,
        tutorial_version=metadata.version,
        package_version=__version__,
        code=starter,
        document=exported.source.document,
    )
    lay_out(origin, target)
    try:
        workflow = target / WORKFLOW
        workflow.parent.mkdir(parents=True, exist_ok=True)
        workflow.write_text(
            workflow_text(exported, pin, timeout_s=timeout_s, sandbox=sandbox), encoding="utf-8"
        )
        support = target / SUPPORT
        support.mkdir(parents=True, exist_ok=True)
        (support / CONSTRAINTS_NAME).write_text(pin.constraints, encoding="utf-8")
        if pin.wheel is not None:
            (support / "wheels").mkdir()
            shutil.copyfile(pin.wheel, support / "wheels" / pin.wheel.name)
        if exported.carried:
            copy_folder(exported, support / "tutorials" / exported.source.id)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
