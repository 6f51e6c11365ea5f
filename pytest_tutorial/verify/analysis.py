"""Mutation analysis: run the tutorial's checks against mutants of the reference solution.

Each mutant is the reference folder copied into a temporary folder (never next to the
reference) with one file mutated (:mod:`.mutation`). A mutant is *killed* when a check
fails, errors or times out on it. Runs stop at the first failing check (``-x``), run in
parallel, forked from one warm server (:mod:`pytest_tutorial.warm`), each with a wall-clock
limit (a mutant past it, an endless loop say, counts as killed).

The checks that run the solution's own tests (those using the ``learner_tests`` fixture)
are left out by default: they measure the reference's tests rather than the tutorial's
checks, and cost seconds per mutant. ``--with-own-tests`` keeps them.

Before any mutant, a *baseline* (the reference through the same parse/unparse, run the
same way) must pass every check, so a kill always means the mutation, not the setup.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pytest_tutorial.report_model import Report, checks_of
from pytest_tutorial.verify import runs
from pytest_tutorial.verify.equivalents import (
    EQUIVALENTS_FILE,
    load_equivalents,
    split_survivors,
)
from pytest_tutorial.verify.mutation import (
    Mutant,
    all_mutants,
    mutate,
    round_trip,
    sample,
    solution_files,
)
from pytest_tutorial.verify.results import (
    Finding,
    MutantResult,
    MutantStatus,
    MutationSummary,
    Outcome,
    StepResult,
)
from pytest_tutorial.verify.steps import Target
from pytest_tutorial.warm import IGNORE_REWRITE_WARNING, ServerGone, WarmServer, warm_imports

_IGNORED = shutil.ignore_patterns(
    "__pycache__", ".pytest_cache", ".hypothesis", ".benchmarks", ".mypy_cache", "*.pyc"
)
MIN_MUTANT_TIMEOUT_S = 15.0

Progress = Callable[[int, int, int], None]
"""Called after each mutant with (done, total, killed so far)."""


def mutation_step(
    target: Target,
    *,
    min_kill_rate: float | None,
    max_mutants: int | None,
    jobs: int,
    timeout_s: float | None,
    own_tests: bool,
    progress: Progress | None = None,
) -> tuple[StepResult, MutationSummary | None]:
    """Mutate the reference, run every mutant (or a sample), and judge the kill rate."""
    started = time.perf_counter()
    mutants = all_mutants(target.reference)
    chosen = sample(mutants, max_mutants)
    if not chosen:
        why = "the reference has no code to mutate" if not mutants else "--max-mutants 0"
        return StepResult("mutation", Outcome.SKIPPED, why), None
    jobs = max(1, min(jobs, len(chosen)))
    with tempfile.TemporaryDirectory(prefix="pytest-tutorial-mutants-") as folder:
        scratch = Path(folder)
        runner = _Runner(target, scratch, _mutant_args(target, own_tests), jobs)
        try:
            baseline = runner.baseline()
            if baseline.report is None or _first_failure(baseline.report):
                why = _first_failure(baseline.report) if baseline.report else baseline.error_text()
                finding = Finding(
                    "the reference does not pass when run the way mutants are run "
                    f"(pytest {' '.join(runner.args)}): {why}",
                    fix="run that command in the course folder to see why",
                )
                step = StepResult("mutation", Outcome.FAILED, "baseline not validated", (finding,))
                return step, None
            limit = timeout_s or max(MIN_MUTANT_TIMEOUT_S, 5 * baseline.duration_s)
            results = runner.run_all(chosen, limit, progress)
        finally:
            runner.close()
    summary = MutationSummary(
        total=len(mutants),
        results=tuple(
            sorted(results, key=lambda r: (r.mutant.file, r.mutant.line, r.mutant.index))
        ),
        min_kill_rate=min_kill_rate,
        own_tests_run=own_tests,
        jobs=jobs,
        duration_s=time.perf_counter() - started,
    )
    return _judge(target, summary), summary


def _mutant_args(target: Target, own_tests: bool) -> list[str]:
    args = [*target.base_args(), "-x", *IGNORE_REWRITE_WARNING]
    if not own_tests:
        args += [f"--deselect={nodeid}" for nodeid in target.slow_checks()]
    return args


class _Runner:
    """Runs copies of the reference (the baseline, then mutants), ``jobs`` at a time."""

    def __init__(self, target: Target, scratch: Path, args: list[str], jobs: int) -> None:
        self.target = target
        self.scratch = scratch
        self.args = args
        self.jobs = jobs
        self.sources = {
            path.relative_to(target.reference).as_posix(): path.read_text(encoding="utf-8")
            for path in solution_files(target.reference)
        }
        self.stopping = threading.Event()
        self.server = self._start_server()

    def _start_server(self) -> WarmServer | None:
        """The warm server every run forks from (None where it cannot start: plain runs)."""
        empty = self.scratch / "empty-solution"
        empty.mkdir()
        warmup = [
            *self.target.base_args(),
            "--collect-only",
            f"--tutorial-solution={empty}",
            f"--tutorial-report={self.scratch / 'warm-up.json'}",
        ]
        return WarmServer.start(
            warm_imports(aws=False),
            pytest_warmup=warmup,
            cwd=self.target.cwd,
            env=runs.child_environment(),
            timeout_s=self.target.run_timeout_s,
        )

    def baseline(self) -> runs.ChildRun:
        """The reference, through the same parse/unparse as the mutants, run like them."""
        folder = self._copy("baseline")
        for path in solution_files(folder):
            path.write_text(round_trip(path.read_text(encoding="utf-8")), encoding="utf-8")
        return self._run(folder, "baseline", self.target.run_timeout_s)

    def run_all(
        self, mutants: list[Mutant], limit: float, progress: Progress | None
    ) -> list[MutantResult]:
        """Every mutant's result, ``jobs`` at a time."""
        lock = threading.Lock()
        done: list[MutantResult] = []

        def one(numbered: tuple[int, Mutant]) -> MutantResult:
            number, mutant = numbered
            folder = self._copy(f"mutant-{number}")
            try:
                source = mutate(self.sources[mutant.file], mutant)
                (folder / mutant.file).write_text(source, encoding="utf-8")
                result = _result(mutant, self._run(folder, f"mutant-{number}", limit))
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            with lock:
                done.append(result)
                if progress is not None:
                    killed = sum(r.status is not MutantStatus.SURVIVED for r in done)
                    progress(len(done), len(mutants), killed)
            return result

        pool = ThreadPoolExecutor(max_workers=self.jobs)
        try:
            return list(pool.map(one, enumerate(mutants)))
        except BaseException:  # Ctrl-C: start no more mutants, stop the running ones
            self.stopping.set()
            pool.shutdown(wait=False, cancel_futures=True)
            self.close()
            raise
        finally:
            pool.shutdown(wait=True)

    def _copy(self, name: str) -> Path:
        folder = self.scratch / name
        shutil.copytree(self.target.reference, folder, ignore=_IGNORED)
        return folder

    def _run(self, folder: Path, name: str, limit: float) -> runs.ChildRun:
        """One run forked from the server, or a plain child when there is no server."""
        args = [*self.args, f"--tutorial-solution={folder}"]
        report = self.scratch / f"{name}.json"
        server = self.server
        if server is not None and server.alive:
            output = self.scratch / f"{name}.out"
            report.unlink(missing_ok=True)
            try:
                ended = server.pytest(
                    [*args, f"--tutorial-report={report}"],
                    output=output,
                    timeout_s=limit,
                    cwd=self.target.cwd,
                )
            except ServerGone:
                if self.stopping.is_set():
                    raise
            else:
                text = output.read_text(encoding="utf-8", errors="replace")[-runs.OUTPUT_TAIL :]
                return runs.ChildRun(
                    ended.exit_code, ended.duration_s, text, runs.read_report(report)
                )
        return runs.run_pytest(args, cwd=self.target.cwd, timeout_s=limit, report=report)

    def close(self) -> None:
        """Stop the server, and the runs it is making."""
        if self.server is not None:
            self.server.close()


def _result(mutant: Mutant, run: runs.ChildRun) -> MutantResult:
    if run.timed_out:
        return MutantResult(
            mutant, MutantStatus.TIMEOUT, "stopped at the time limit", run.duration_s
        )
    report = run.report
    if report is None:
        why = f"the run crashed (exit status {run.exit_code}, no report)"
        return MutantResult(mutant, MutantStatus.KILLED, why, run.duration_s)
    failure = _first_failure(report)
    if not failure:
        return MutantResult(mutant, MutantStatus.SURVIVED, "", run.duration_s)
    return MutantResult(mutant, MutantStatus.KILLED, failure, run.duration_s)


def _first_failure(report: Report) -> str:
    """The first check that did not pass, or "" when every check that ran passed.

    Not the verdict: the deselected checks of the learner's own tests leave their item
    ``skipped``, so a mutant run is never ``validated``.
    """
    if report["verdict"] == "error":
        problems = report.get("problems", [])
        return "the run could not check anything: " + "; ".join(problems)
    for item, check in checks_of(report):
        if check["status"] in ("failed", "error", "timeout"):
            return f"{check['name']} ({item['id']}, {check['status']})"
    return ""


def _judge(target: Target, summary: MutationSummary) -> StepResult:
    """Pass when the kill rate meets the minimum and every survivor is listed as equivalent."""
    rate = summary.kill_rate or 0.0
    run = len(summary.results)
    sampled = f" of a {run}-mutant sample" if run < summary.total else ""
    text = f"kill rate {rate:.0%} ({summary.killed}/{run} killed{sampled})"
    if summary.min_kill_rate is not None:
        text += f", minimum {summary.min_kill_rate:.0%}"
    listed, weak, stale = split_survivors(
        [result.mutant for result in summary.survivors], load_equivalents(target.directory)
    )
    if listed:
        text += f"; {len(listed)} survivor(s) listed as equivalent"
    findings = [
        Finding(
            f"survived: {mutant.change}",
            path=str(target.reference / mutant.file),
            line=mutant.line,
            fix="a weak spot of the checks: add a check this change fails, or list it in "
            f"{EQUIVALENTS_FILE} with the reason it cannot matter",
        )
        for mutant in weak
    ]
    findings += [
        Finding(
            f"stale entry: no surviving mutant of {entry.file} is {entry.change!r}",
            path=str(target.directory / EQUIVALENTS_FILE),
            fix="remove the entry (the mutant is killed now, or the code changed)",
        )
        for entry in stale
        if run == summary.total  # a sample cannot tell a stale entry from an unsampled one
    ]
    passed = summary.meets_minimum and not weak
    outcome = Outcome.PASSED if passed else Outcome.FAILED
    return StepResult("mutation", outcome, text, tuple(findings), summary.duration_s)
