"""The terminal view of ``pytest-tutorial verify``: one line per step, then what to fix."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TextIO

from pytest_tutorial.verify.results import (
    Finding,
    MutationSummary,
    Outcome,
    StepResult,
    TutorialVerification,
)

LABELS = {Outcome.PASSED: "PASS", Outcome.FAILED: "FAIL", Outcome.SKIPPED: "skip"}
WEAK_SPOT_FIX = (
    "each is a weak spot of the checks: add a check that fails on it, or list it in the "
    "tutorial's equivalent_mutants.yaml with the reason it cannot matter"
)
SURVIVED = "survived: "


class Printer:
    """Writes verify's lines as the steps finish, relative paths, a live mutant counter."""

    def __init__(self, stream: TextIO | None = None, *, cwd: Path | None = None) -> None:
        self.stream = stream or sys.stdout
        self.cwd = cwd or Path.cwd()
        self.live = self.stream.isatty()
        self._counter_shown = False

    def write(self, text: str = "") -> None:
        """One line of output."""
        self._clear_counter()
        print(text, file=self.stream, flush=True)

    def tutorial(self, result: TutorialVerification) -> None:
        """The heading of one tutorial."""
        self.write(f"{result.id}: {result.title}" if result.title else result.id)

    def step(self, step: StepResult, mutation: MutationSummary | None = None) -> None:
        """One step's line and, below it, its findings."""
        took = f"  ({step.duration_s:.1f} s)" if step.duration_s >= 1 else ""
        self.write(f"  {LABELS[step.outcome]}  {step.name:<12}  {step.summary}{took}")
        if step.name == "mutation" and mutation is not None:
            weak = [f for f in step.findings if f.message.startswith(SURVIVED)]
            if weak:
                self.write(f"        {len(weak)} surviving mutants: {WEAK_SPOT_FIX}")
            for finding in weak:
                self.write(
                    f"        {self._where(finding)}{finding.message.removeprefix(SURVIVED)}"
                )
            for finding in step.findings:
                if finding not in weak:
                    self.write(f"        {self._where(finding)}{finding.message}")
                    self.write(f"          fix: {finding.fix}")
            return
        for finding in step.findings:
            self.write(f"        {self._where(finding)}{finding.message}")
            if finding.fix and step.name != "placeholders":
                self.write(f"          fix: {finding.fix}")
        if step.name == "placeholders" and step.findings:
            self.write("          fix: replace each with the tutorial's own content")

    def counter(self, done: int, total: int, killed: int) -> None:
        """The live mutant counter (a terminal), or a line every 25 mutants (a log)."""
        text = f"  ....  mutation      {done}/{total} mutants run, {killed} killed"
        if self.live:
            self.stream.write("\r" + text)
            self.stream.flush()
            self._counter_shown = True
        elif done % 25 == 0 or done == total:
            print(text, file=self.stream, flush=True)

    def _clear_counter(self) -> None:
        if self._counter_shown:
            self.stream.write("\r\033[K")
            self._counter_shown = False

    def _where(self, finding: Finding) -> str:
        if finding.path is None:
            return ""
        path = finding.path
        with contextlib.suppress(ValueError):
            path = os.path.relpath(path, self.cwd)
        if path.startswith(".." + os.sep + ".."):
            path = finding.path
        return Finding("", path, finding.line).where()

    def summary(self, results: list[TutorialVerification], json_path: Path | None) -> None:
        """The closing line: which tutorials passed, and each kill rate."""
        parts = []
        for result in results:
            rate = result.mutation.kill_rate if result.mutation else None
            state = "passed" if result.passed else f"FAILED at {', '.join(result.failed_steps)}"
            parts.append(
                f"{result.id} {state}" + (f" (kill rate {rate:.0%})" if rate is not None else "")
            )
        passed = sum(result.passed for result in results)
        self.write(
            f"verify: {passed}/{len(results)} tutorials passed: "
            + ", ".join(parts)
            + (f"; JSON: {json_path}" if json_path else "")
        )
