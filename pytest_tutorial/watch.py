"""``pytest-tutorial watch NAME``: rerun a tutorial's checks each time a solution file is saved.

The learner's loop from save to feedback: the checks run once at the start, then again
after every change in the solution folder (watchfiles; a burst of saves is one run). Each
run is a fresh pytest run of ``--tutorial=NAME`` in a child process, so a syntax error, an
endless loop or a crash in the learner's code only shows up as failed checks (or pytest's
own message) and the loop carries on. The children fork from a warm server
(:mod:`pytest_tutorial.warm`) that has pytest, the plugins, hypothesis, the fakes and the
tutorial's check modules imported, so a save skips Python's and pytest's start-up; a forked
run starts as clean as a new process (nothing of an earlier run's code stays loaded). Where
the server cannot start, or dies, the run is a plain ``python -m pytest`` child instead.
The runs of the learner's own tests (the ``tests`` item) fork from a second warm server the
loop keeps across saves (:func:`pytest_tutorial.learner_tests.start_shared_server`), so a
save does not start one.
After each run the screen (:mod:`pytest_tutorial.watch_screen`) shows the Validation
Checklist with progress: how many items pass, which passed for the first time, when each
first passed (from the progress file, see :mod:`pytest_tutorial.progress`), and for each
failing item its first problem and hint.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pytest_tutorial.report_model import Report, read_report
from pytest_tutorial.warm import ServerGone, WarmServer, warm_imports
from pytest_tutorial.watch_screen import Screen

NAME = "watch"
HELP = "rerun a tutorial's checks each time you save a file in your solution folder"
IGNORED_DIRS = (".benchmarks", ".pytest-tutorial", "tests_output")
"""Folders whose changes never trigger a run (besides watchfiles' own: caches, .git...)."""
READY_POLL_MS = 200
"""How often the watcher wakes when nothing changes (its first wake says it is ready)."""
READY_TIMEOUT_S = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``watch``."""
    parser.add_argument("name", metavar="NAME", help="the tutorial to check")
    parser.add_argument(
        "--solution",
        type=Path,
        metavar="PATH",
        help="your solution folder (default: the one pytest --tutorial=NAME checks here: the "
        "ini's tutorial_solution, else exercises/NAME under the rootdir)",
    )
    parser.add_argument(
        "--debounce",
        type=int,
        default=300,
        metavar="MS",
        help="wait this long for more saves before a run (default 300)",
    )
    parser.add_argument(
        "--no-clear", action="store_true", help="do not clear the screen before each run"
    )
    parser.add_argument(
        "--max-runs",
        type=int,
        metavar="N",
        help="stop after N runs (for scripts and tests; default: run until Ctrl-C)",
    )
    parser.add_argument(
        "-k",
        dest="keyword",
        metavar="EXPRESSION",
        help="only the checks matching EXPRESSION, as pytest -k (the others show as skipped)",
    )
    parser.add_argument(
        "--pytest-arg",
        dest="pytest_args",
        action="append",
        default=[],
        metavar="ARG",
        help="one more option for pytest, repeatable: --pytest-arg=-v",
    )


def run(args: argparse.Namespace) -> int:
    """Run, watch, rerun; returns 0 at --max-runs, or on Ctrl-C (via the CLI: 130).

    Without ``--solution`` the first run finds the solution folder exactly as
    ``pytest --tutorial=NAME`` does here (the ini's ``tutorial_solution``, else
    ``exercises/NAME`` under the rootdir), and its report says which folder to watch.
    """
    extra = [*(["-k", args.keyword] if args.keyword else []), *args.pytest_args]
    given = args.solution.resolve() if args.solution else None
    if given is not None and not given.is_dir():
        from pytest_tutorial.start import command_line

        print(
            f"watch: the solution folder {given} does not exist; pass --solution PATH (the "
            f"folder holding your code), or lay out the starter with `{command_line(args.name)}`"
        )
        return 2
    screen = Screen(sys.stdout, clear=not args.no_clear)
    loop = Loop(args.name, given, extra)
    stop = threading.Event()
    try:
        started = time.time()
        outcome = loop.run_once()
        if loop.solution is None:  # pytest found no solution folder; its message says why
            screen.show(loop, outcome, [])
            return 2
        changes = _start_watching(loop.solution, args.debounce, stop)
        missed = _saved_since(loop.solution, started)
        if missed:  # saved during the first run, before the watcher was ready
            changes.put(missed)
        changed: list[str] = []
        while True:
            screen.show(loop, outcome, changed)
            if args.max_runs is not None and loop.runs >= args.max_runs:
                return 0
            changed = changes.get()
            while not changes.empty():  # saves during the run: one more run covers them all
                changed += changes.get_nowait()
            outcome = loop.run_once()
    finally:
        stop.set()
        loop.close()


def _watch_filter() -> Any:
    import watchfiles

    return watchfiles.DefaultFilter(
        ignore_dirs=(*watchfiles.DefaultFilter.ignore_dirs, *IGNORED_DIRS)
    )


def _start_watching(folder: Path, debounce: int, stop: threading.Event) -> queue.Queue[list[str]]:
    """Watch ``folder`` in a thread; return once the watcher is in place, with its queue."""
    changes: queue.Queue[list[str]] = queue.Queue()
    ready = threading.Event()
    watcher = threading.Thread(
        target=_watch, args=(folder, debounce, changes, stop, ready), daemon=True, name="watch"
    )
    watcher.start()
    ready.wait(READY_TIMEOUT_S)
    return changes


def _watch(
    folder: Path,
    debounce: int,
    changes: queue.Queue[list[str]],
    stop: threading.Event,
    ready: threading.Event,
) -> None:
    import watchfiles

    for batch in watchfiles.watch(
        folder,
        watch_filter=_watch_filter(),
        debounce=debounce,
        stop_event=stop,
        raise_interrupt=False,
        rust_timeout=READY_POLL_MS,
        yield_on_timeout=True,  # the first (empty) batch says the watcher is in place
    ):
        ready.set()
        if not batch:
            continue
        paths = {path for _, path in batch}
        existing = {path for path in paths if Path(path).exists()}  # not editors' temp files
        changes.put(sorted(_relative(path, folder) for path in existing or paths))


def _saved_since(folder: Path, since: float) -> list[str]:
    """The files of ``folder`` the watcher would report that changed after ``since``."""
    import watchfiles

    watch_filter = _watch_filter()
    found = []
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = [
            name
            for name in subdirectories
            if watch_filter(watchfiles.Change.modified, os.path.join(directory, name))
        ]
        for name in files:
            path = os.path.join(directory, name)
            try:
                recent = os.stat(path).st_mtime > since
            except OSError:
                continue
            if recent and watch_filter(watchfiles.Change.modified, path):
                found.append(_relative(path, folder))
    return sorted(found)


def _relative(path: str, folder: Path) -> str:
    try:
        return Path(path).relative_to(folder).as_posix()
    except ValueError:
        return path


class Loop:
    """Runs the checks in a forked (or plain) child pytest; keeps what is needed between runs."""

    def __init__(self, name: str, solution: Path | None, extra: list[str]) -> None:
        self.name = name
        self.given = solution
        self.solution = solution
        """The folder watched: the one given, else the one the first run's report names."""
        self.extra = extra
        self.runs = 0
        self.passed_before: set[str] = set()
        self.newly_passed: set[str] = set()
        self._folder = Path(tempfile.mkdtemp(prefix="pytest-tutorial-watch-"))
        self._server: WarmServer | None = None
        self._server_tried = False
        self._learner_server: WarmServer | None = None
        self._learner_setting = ""
        self._learner_lock = threading.Lock()
        self._learner_starting = False
        self._closed = False
        if solution is not None:
            self._start_learner_server()

    def close(self) -> None:
        """Stop the warm servers and remove the folder of the runs' reports."""
        if self._server is not None:
            self._server.close()
        with self._learner_lock:
            learner_server, self._learner_server = self._learner_server, None
            self._closed = True  # a server still starting is closed when it is ready
        if learner_server is not None:
            learner_server.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def _start_learner_server(self) -> None:
        """Start the learner-tests server in the background, unless one runs or is starting."""
        with self._learner_lock:
            running = self._learner_server is not None and self._learner_server.alive
            if running or self._learner_starting or self._closed or self.solution is None:
                return
            self._learner_starting = True
        threading.Thread(
            target=self._learner_server_thread, args=(self.solution,), daemon=True
        ).start()

    def _learner_server_thread(self, solution: Path) -> None:
        from pytest_tutorial.learner_layout import solution_layout
        from pytest_tutorial.learner_model import LearnerTestsError
        from pytest_tutorial.learner_tests import shared_server_setting, start_shared_server

        server = None
        setting = ""
        with contextlib.suppress(LearnerTestsError, OSError):  # then each run starts its own
            layout = solution_layout(solution, "")
            socket = Path(tempfile.mkdtemp(dir=self._folder)) / "learner-tests.sock"
            server = start_shared_server(layout, socket)
            setting = shared_server_setting(socket, aws=layout.aws)
        with self._learner_lock:
            closed = self._closed
            if not closed:
                self._learner_server, self._learner_setting = server, setting
            self._learner_starting = False
        if closed and server is not None:
            server.close()

    def _learner_env(self) -> dict[str, str | None]:
        """What tells a run where the learner-tests server is (nothing while none is ready)."""
        from pytest_tutorial.learner_tests import SHARED_SERVER_VARIABLE

        with self._learner_lock:
            ready = self._learner_server is not None and self._learner_server.alive
            setting = self._learner_setting if ready else None
        if not ready:
            self._start_learner_server()  # it died, or the solution is known only now
        return {SHARED_SERVER_VARIABLE: setting}

    def _warm_server(self) -> WarmServer | None:
        """The server the runs fork from, started on first use (None: it cannot start)."""
        if not self._server_tried:
            from pytest_tutorial.progress import NO_PROGRESS_ENV  # a warm-up is no progress

            self._server_tried = True
            empty = self._folder / "empty-solution"
            empty.mkdir(exist_ok=True)
            self._server = WarmServer.start(
                warm_imports(aws=False),
                pytest_warmup=[
                    f"--tutorial={self.name}",
                    f"--tutorial-solution={empty}",  # imports nothing of the learner's code
                    f"--rootdir={empty}",  # its state folder is not the learner's
                    f"--tutorial-report={self._folder / 'warm-up.json'}",
                    "--collect-only",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                ],
                warmup_env={NO_PROGRESS_ENV: "1", "XDG_CACHE_HOME": str(self._folder / "cache")},
            )
        return self._server

    def _run_pytest(self, args: list[str]) -> tuple[int, str]:
        """One run: forked from the warm server, else a plain child; exit code and output."""
        server = self._warm_server()
        env = self._learner_env()
        if server is not None:
            output = self._folder / "output.txt"
            try:
                ended = server.pytest(args, output=output, timeout_s=None, cwd=Path.cwd(), env=env)
            except ServerGone:
                server.close()
                self._server = None
            else:
                text = output.read_text(encoding="utf-8", errors="replace")
                return (ended.exit_code if ended.exit_code is not None else -1), text
        environ = {key: value for key, value in os.environ.items() if key not in env}
        environ.update({key: value for key, value in env.items() if value is not None})
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", *args],
            env=environ,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        return completed.returncode, completed.stdout + completed.stderr

    def run_once(self) -> RunOutcome:
        """One run of the checks; never raises for anything the learner's code does."""
        report_path = self._folder / f"{self.name}.json"
        report_path.unlink(missing_ok=True)
        args = [
            f"--tutorial={self.name}",
            *([f"--tutorial-solution={self.given}"] if self.given else []),
            f"--tutorial-report={report_path}",
            "-q",
            "-p",
            "no:cacheprovider",
            *self.extra,
        ]
        started = time.perf_counter()
        exit_code, output = self._run_pytest(args)
        self.runs += 1
        report = read_report(report_path)
        passed = set()
        if report is not None:
            passed = {
                i["id"] for i in report["checklist"] if i["automated"] and i["status"] == "passed"
            }
        if self.solution is None and report is not None:
            self.solution = Path(report["solution"]["path"])
            self._start_learner_server()
        self.newly_passed = passed - self.passed_before if self.runs > 1 else set()
        self.passed_before |= passed
        return RunOutcome(report, exit_code, time.perf_counter() - started, output[-4000:])


class RunOutcome:
    """One run: its report (None when pytest could not write one), exit code, time, output."""

    def __init__(
        self, report: Report | None, exit_code: int, duration_s: float, output: str
    ) -> None:
        self.report = report
        self.exit_code = exit_code
        self.duration_s = duration_s
        self.output = output
