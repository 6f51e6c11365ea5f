"""The stateful plugin object of a tutorial run: collection, timing, results, report.

:mod:`pytest_tutorial.plugin` registers one :class:`TutorialSession` only when
``--tutorial`` is given. It replaces the run's arguments with the tutorial's check
modules, ties every check to its checklist item, enforces time limits, gathers results
in ``pytest_runtest_logreport`` (so it works under pytest-xdist), and at the end writes
the report and prints the checklist.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Generator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_tutorial import hints, terminal
from pytest_tutorial import report as report_module
from pytest_tutorial.async_checks import (
    adopt_async_fixture,
    cancel_at_time_limit,
    mark_coroutine_check,
)
from pytest_tutorial.check_status import (
    DESELECTED,
    WORKER_ENDED,
    bounded_message,
    status_of,
    worker_ended,
)
from pytest_tutorial.coverage import CoverageProblem, check_problems, check_specs, read_marker
from pytest_tutorial.discovery import TutorialSource
from pytest_tutorial.failures import (
    IMPORT_FAILURE,
    counterexample,
    failure_message,
    first_lines,
    learner_frames,
)
from pytest_tutorial.hypothesis_warmup import keep_harness_constants_out_of_hypothesis
from pytest_tutorial.model import Tutorial
from pytest_tutorial.options import (
    DEFAULT_TIMEOUT_S,
    IsolationMode,
    Settings,
    SolutionKind,
)
from pytest_tutorial.report_model import LoadTestEntry, Report
from pytest_tutorial.scoring import CheckResult, CheckSpec, Scorecard, Status, score
from pytest_tutorial.solution import Solution, SolutionImportError, shown
from pytest_tutorial.solution_imports import SolutionImports
from pytest_tutorial.stub_properties import ending_at_stubs
from pytest_tutorial.timeouts import time_limit, timeout_in

if TYPE_CHECKING:
    from pytest_tutorial.isolation.solutions import SolutionWorkers

STATUS_PROPERTY = "tutorial_status"
MESSAGE_PROPERTY = "tutorial_message"
CHECK_PROPERTY = "tutorial_check"
COUNTEREXAMPLE_PROPERTY = "tutorial_counterexample"
LOAD_PROPERTY = "tutorial_load"

SESSION_KEY = pytest.StashKey["TutorialSession"]()


class CheckModule(pytest.Module):
    """A tutorial's check module, collected whatever the learner's python_* ini settings say."""

    def funcnamefilter(self, name: str) -> bool:
        """Checks are ``test*`` functions, whatever ``python_functions`` says."""
        return name.startswith("test")

    def classnamefilter(self, name: str) -> bool:
        """Check classes are ``Test*``, whatever ``python_classes`` says."""
        return name.startswith("Test")


class TutorialSession:
    """Everything one ``pytest --tutorial=NAME`` run knows and produces."""

    def __init__(
        self, config: pytest.Config, settings: Settings, source: TutorialSource, tutorial: Tutorial
    ) -> None:
        self.config = config
        self.settings = settings
        self.source = source
        self.tutorial = tutorial
        self.specs: dict[str, CheckSpec] = {}
        self.results: dict[str, CheckResult] = {}
        self.performance: list[LoadTestEntry] = []
        self.problems: list[str] = []
        self.coverage_problems: list[CoverageProblem] = []
        """Every broken coverage rule (the run stops at the first; ``verify`` lists them)."""
        self.deselected: set[str] = set()
        self.card: Scorecard | None = None
        self.report: Report | None = None
        """The run's report, once the run is over."""
        self.started_at = datetime.now(UTC)
        self.started = time.perf_counter()
        self.imports = SolutionImports(config, settings, source, tutorial)
        self.is_worker = hasattr(config, "workerinput")

    # --- the implementation under test -----------------------------------------------------

    def solution(self) -> Solution:
        """Import the solution once; every later call returns it or re-raises its failure."""
        __tracebackhide__ = True
        return self.imports.solution()

    def reference_solution(self) -> tuple[Solution | None, str]:
        """The reference solution to compare performance with, or None and the reason."""
        return self.imports.reference_solution()

    @property
    def workers(self) -> SolutionWorkers | None:
        """The solutions' workers, with ``--tutorial-isolation=worker`` once started."""
        return self.imports.workers

    def pytest_sessionstart(self) -> None:
        """In worker mode, start the workers while the checks are collected.

        The solution's, and the reference's when the grader gave one; not when only
        collecting, nor in an xdist controller (its workers run the checks).
        """
        option = self.config.option
        if self.settings.isolation is IsolationMode.PROCESS or option.collectonly:
            return
        if getattr(option, "numprocesses", None) and not hasattr(self.config, "workerinput"):
            return
        from pytest_tutorial.isolation.launcher import GRADING_REFERENCE_KEY

        workers = self.imports.solution_workers()
        workers.prestart(self.settings.solution, self.settings.solution_kind.value)
        reference = self.config.stash.get(GRADING_REFERENCE_KEY, None)
        if reference is not None and reference.resolve() != self.settings.solution.resolve():
            workers.prestart(reference, "reference")

    # --- collection ----------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(self, module_path: Path, parent: pytest.Collector) -> Any:
        """Collect the tutorial's check modules as :class:`CheckModule`."""
        if module_path.parent == self.source.directory:
            # A node id of its own (``caching/check_core.py::test_x``) wherever the tutorial
            # lives: outside the rootdir pytest would make it ``::test_x`` for every module.
            nodeid = f"{self.tutorial.id}/{module_path.name}"
            return CheckModule.from_parent(parent, path=module_path, nodeid=nodeid)
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makeitem(
        self, collector: pytest.Collector, name: str, obj: object
    ) -> None:
        """Mark coroutine checks for pytest-asyncio before their items are made."""
        if collector.path.parent == self.source.directory:
            mark_coroutine_check(collector, name, obj)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None, Any, Any]:
        """Let the tutorial's async fixtures run on pytest-asyncio's loop."""
        adopt_async_fixture(fixturedef, self.source.directory)
        return (yield)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A module that cannot be collected is a problem of the run."""
        if report.failed:
            self.problems.append(
                f"could not collect {report.nodeid or 'the checks'}: "
                f"{first_lines(str(report.longrepr))}"
            )

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        """Remember the checks a selection left out (they count as not run)."""
        self.deselected.update(item.nodeid for item in items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Tie each check to its checklist item; any mismatch is a usage error.

        The error is also kept as the run's problem, so the report says why it has no verdict.
        """
        keep_harness_constants_out_of_hypothesis()  # before hypothesis' own hook mines them
        try:
            self._tie_checks_to_items(items)
        except pytest.UsageError as error:
            self.problems.append(str(error))
            self.specs.clear()
            raise

    def _tie_checks_to_items(self, items: list[pytest.Item]) -> None:
        checks = [read_marker(item) for item in items]
        self.coverage_problems = check_problems(checks, self.tutorial)
        if self.coverage_problems:
            raise self.coverage_problems[0].error()
        self.specs.update(check_specs(checks, self.tutorial))
        for item in items:
            # The learner's (or the course repository's) filterwarnings, "error" say, must not
            # turn a warning in the learner's code into a failed check: warnings stay warnings.
            item.add_marker(pytest.mark.filterwarnings("default"))

    # --- running -------------------------------------------------------------------------

    def timeout_for(self, item: pytest.Item) -> float | None:
        """The option overrides the check's marker, which overrides the tutorial's value."""
        if self.settings.timeout_s is not None:
            return self.settings.timeout_s or None
        spec = self.specs.get(item.nodeid)
        if spec is not None and spec.timeout_s is not None:
            return spec.timeout_s
        assert self.tutorial.validation is not None
        return self.tutorial.validation.timeout_s or DEFAULT_TIMEOUT_S

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        """Setup under the check's time limit."""
        with time_limit(self.timeout_for(item)):
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """The check under its time limit (a coroutine check is cancelled at it).

        A property check ends at the learner's first NotImplementedError (a stub), unshrunk.
        """
        limit = self.timeout_for(item)
        try:
            with (
                cancel_at_time_limit(item, limit) as hard,
                time_limit(hard),
                ending_at_stubs(item),
            ):
                return (yield)
        finally:
            # hypothesis would offer a patch adding the failing example to the check module:
            # packaged harness code, not the learner's
            item.__dict__.pop("_hypothesis_failing_examples", None)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        """Teardown under the check's time limit; then the check's worker sockets go."""
        try:
            with time_limit(self.timeout_for(item)):
                return (yield)
        finally:
            if self.workers is not None:
                self.workers.end_check()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Label the report with the check's status and a one-paragraph message.

        Runs where the check ran (an xdist worker too); the labels travel with the report
        as user properties. Harness failures get a short text instead of a traceback.
        """
        report = yield
        spec = self.specs.get(item.nodeid)
        if call.when == "setup" and spec is not None:
            report.user_properties.append((CHECK_PROPERTY, spec.to_property()))
        if call.excinfo is None or report.skipped:
            return report
        error = call.excinfo.value
        status = status_of(error, call.when)
        ended = self.workers.ended_during_check() if self.workers is not None else None
        stopped = ended.interrupted_by if ended is not None else None
        if stopped is not None and timeout_in(stopped) is not None:
            # The time limit stopped a call; what surfaced may be something else (hypothesis
            # seeing the next example fail differently, say).
            status, error = Status.TIMEOUT, stopped
        if status is Status.TIMEOUT:
            message = str(timeout_in(error))
            report.longrepr = f"TIMEOUT: {message}"
        elif isinstance(error, SolutionImportError) or worker_ended(error):
            lead = IMPORT_FAILURE if isinstance(error, SolutionImportError) else WORKER_ENDED
            message = report.longrepr = f"{lead}{error}"
        elif ended is not None:
            # The worker's end surfaced as something else (a check that caught it, or
            # hypothesis seeing the next example behave differently): say what happened.
            message = report.longrepr = f"{WORKER_ENDED}{ended.gone}"
        else:
            message = failure_message(
                call.excinfo, solution=self.settings.solution, checks=self.source.directory
            )
            self._learner_traceback(report, call.excinfo)
        report.user_properties.append((STATUS_PROPERTY, status.value))
        report.user_properties.append((MESSAGE_PROPERTY, bounded_message(message, call.when)))
        found = counterexample(error, getattr(item, "fixturenames", ()))
        if found:
            report.user_properties.append((COUNTEREXAMPLE_PROPERTY, found))
        return report

    def _learner_traceback(
        self, report: pytest.TestReport, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> None:
        """With ``--tb=short|long``: only the learner's frames and the check's calling line."""
        style = self.config.option.tbstyle
        if style not in ("short", "long", "auto"):
            return
        report.longrepr = excinfo.getrepr(
            style="short" if style == "short" else "long",
            tbfilter=learner_frames(self.settings.solution, self.source.directory),
            funcargs=False,
            showlocals=bool(self.config.option.showlocals),
            truncate_locals=True,
        )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold the setup/call/teardown reports of each check into one result."""
        properties: dict[str, Any] = dict(report.user_properties)
        if report.nodeid not in self.specs and CHECK_PROPERTY in properties:
            # Under pytest-xdist the controller does not collect: specs come with the reports.
            self.specs[report.nodeid] = CheckSpec.from_property(
                properties[CHECK_PROPERTY], self.tutorial
            )
        previous = self.results.get(report.nodeid)
        duration = report.duration + (previous.duration_s if previous else 0.0)
        if report.when == "call" and LOAD_PROPERTY in properties:
            self.performance.append(properties[LOAD_PROPERTY])
        if report.passed:
            if report.when == "call":
                self.results[report.nodeid] = CheckResult(Status.PASSED, "", duration)
            elif previous is not None:
                self.results[report.nodeid] = replace(previous, duration_s=duration)
            return
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            self.results[report.nodeid] = CheckResult(Status.SKIPPED, str(reason), duration)
            return
        if previous is not None and previous.status is not Status.PASSED:
            return  # a teardown error after a failure: keep the first problem
        status = Status(properties.get(STATUS_PROPERTY, Status.ERROR.value))
        message = str(properties.get(MESSAGE_PROPERTY) or first_lines(report.longreprtext))
        message = bounded_message(message, report.when)
        counterexample = str(properties.get(COUNTEREXAMPLE_PROPERTY, ""))
        self.results[report.nodeid] = CheckResult(status, message, duration, counterexample)

    # --- the end -------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Score, write the report, and exit 0 exactly when everything that ran passed."""
        if self.workers is not None:
            self.workers.close()
        if self.is_worker:
            return
        results = dict(self.results)
        for nodeid in self.deselected:
            results.setdefault(nodeid, DESELECTED)
        specs = list(self.specs.values())
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            self.problems.append("the run was interrupted before every check finished")
        run_error = bool(self.problems) or not specs
        results = self._with_hints(results, run_error=run_error)
        self.card = score(self.tutorial, specs, results, run_error=run_error)
        self.report = report = self._report(self.card)
        try:
            report_module.write_report(report, self.settings.report)
        except OSError as error:
            problem = f"could not write the report to {self.settings.report}: {error}"
            self.problems.append(problem)
            report["problems"] = [*report.get("problems", []), problem]
        from pytest_tutorial.progress import record_run  # the learner's progress between runs

        record_run(self.settings, self.card)
        if exitstatus in (
            pytest.ExitCode.OK,
            pytest.ExitCode.TESTS_FAILED,
            pytest.ExitCode.NO_TESTS_COLLECTED,
        ):
            succeeded = self.card.verdict.succeeded
            session.exitstatus = pytest.ExitCode.OK if succeeded else pytest.ExitCode.TESTS_FAILED

    def _with_hints(
        self, results: dict[str, CheckResult], *, run_error: bool
    ) -> dict[str, CheckResult]:
        """Each failing check's hint level (see :mod:`pytest_tutorial.hints`) and rerun command.

        Levels climb only for the checks the terminal shows in detail, and are not kept for
        the reference solution.
        """
        from pytest_tutorial.progress import solution_key

        book = hints.HintBook(
            self.settings.state_dir / "hints" / f"{self.tutorial.id}.json",
            solution_key(self.settings.rootdir, self.settings.solution),
        )
        if self.settings.solution_kind is not SolutionKind.REFERENCE:
            card = score(self.tutorial, list(self.specs.values()), results, run_error=run_error)
            verbose = self.config.get_verbosity() > 0
            shown = terminal.detailed_checks(self._report(card), verbose=verbose)
            book.record(results, shown, hints.fingerprint(self.settings.solution), self.specs)
            book.save()
        return hints.with_hints(self.specs, results, self.settings, book)

    def _report(self, card: Scorecard) -> Report:
        return report_module.build_report(
            self.tutorial,
            self.settings.solution,
            self.settings.solution_kind,
            card,
            performance=self.performance,
            problems=self.problems,
            started_at=self.started_at,
            duration_s=time.perf_counter() - self.started,
        )

    @property
    def import_failure(self) -> str | None:
        """Why the solution could not be imported, when it could not."""
        failure = self.imports.failure
        return None if failure is None else f"{IMPORT_FAILURE}{failure}"

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The checklist, the load tests and the verdict, drawn by :mod:`.terminal`."""
        if self.report is None:
            return
        title = self.tutorial.metadata.title
        terminalreporter.write_sep("=", f"tutorial {self.tutorial.id}: {title}", bold=True)
        terminalreporter.write_line(
            f"solution: {shown(self.settings.solution)} ({self.settings.solution_kind.value})"
        )
        if self.import_failure:
            terminalreporter.write_line(f"problem: {self.import_failure}", red=True)
        renderer = terminal.ChecklistRenderer(
            verbose=self.config.get_verbosity() > 0,
            width=max(int(getattr(terminalreporter, "_screen_width", 100) or 100), 60),
            ascii_only=not terminal.can_encode(getattr(sys.stdout, "encoding", None)),
            import_failure_above=self.import_failure is not None,
        )
        lines = renderer.lines(self.report, self.settings.report, checklist=bool(self.specs))
        for text, markup in lines:
            terminalreporter.write_line(text, **markup)
