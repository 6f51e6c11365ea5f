"""Shared helpers of the project's tests: run a tutorial with pytester, validate its report."""

from __future__ import annotations

import ast
import contextlib
import gc
import importlib
import json
import pkgutil
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_tutorial.options import REPORT, SOLUTION, TUTORIAL
from pytest_tutorial.report import SCHEMA_PATH

if TYPE_CHECKING:
    from pytest_tutorial.isolation.remote import Worker
    from pytest_tutorial.warm import WarmServer

REPO = Path(__file__).resolve().parent.parent
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Import what tutorial runs import, then freeze this process's heap.

    pytester puts the module table back after each in-process run, so every module a run
    imported and the test process had not is imported again by the next run: about 300
    (the package's, hypothesis', moto's, cryptography's) in each run of a bundled tutorial.
    Imported here once, they are part of every run's starting table instead, as they are
    in the warm servers that runs are forked from.

    A worker of the suite then holds pytest, hypothesis, the fakes and the package: objects
    that live as long as it does. Unfrozen, every full collection walks them.
    A tutorial run made inside a test leaves a frozen heap as it found it
    (:mod:`pytest_tutorial.heap`), so what the runs allocate is collected as before.
    """
    _import_what_tutorial_runs_import()
    _load_hypothesis_unicode_tables()
    gc.freeze()


THAW_EVERY = 100
"""Tests after which the heap is thawed and collected whole (:func:`pytest_runtest_protocol`):
about 0.8 s of CPU each time, and up to 4 MB a test kept meanwhile."""
_tests_since_thaw = 0


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """After a test that made pytest runs in-process: collect, then freeze what is left.

    What outlives such a test (pytest's reports, caches the package keeps, the modules an
    in-process run leaves behind) would otherwise grow the heap that every later full
    collection walks: a fifth of a test process's CPU went to them, 0.16 s a collection
    by the end of a module of tutorial runs. Collected now, the test's own objects are
    all that this collection walks. Some of what is frozen dies later (whole in-process
    runs, their configs, items and check modules, let go of during the next test), and
    frozen it is never collected: every :data:`THAW_EVERY` tests the whole heap is thawed
    and collected, so what is kept so stays within that many tests' worth.
    """
    ran = yield  # the test ran, its fixtures were torn down and let go of
    if "pytester" not in getattr(item, "fixturenames", ()):
        return ran
    global _tests_since_thaw
    _tests_since_thaw += 1
    if _tests_since_thaw >= THAW_EVERY:
        _tests_since_thaw = 0
        gc.unfreeze()
    gc.collect()
    gc.freeze()
    return ran


def _load_hypothesis_unicode_tables() -> None:
    """Hypothesis' Unicode tables, in memory before any in-process run needs them.

    pytester gives each run a home of its own, so a run finds no tables in the per-user
    cache it reads them from (:mod:`pytest_tutorial.hypothesis_warmup`), and the first
    ``st.text()`` of the process built the UTF-8 table from scratch: about a second of
    CPU in every worker of the suite. Read from the real per-user cache here (built there
    if it has none), they are kept in memory by hypothesis for every later run. Where
    hypothesis' internals moved, each process builds them as before.
    """
    import tempfile

    from hypothesis.configuration import set_hypothesis_home_dir

    try:
        from hypothesis.internal import charmap
    except ImportError:
        return

    from pytest_tutorial.hypothesis_warmup import tables_for_test_runs
    from pytest_tutorial.options import user_cache_dir

    with tempfile.TemporaryDirectory(prefix="suite-hypothesis-") as home:
        tables_for_test_runs(Path(home), build=True, cache=user_cache_dir())
        set_hypothesis_home_dir(home)
        try:
            charmap.charmap()
            charmap.intervals_from_codec("utf-8")
        except (AttributeError, TypeError):  # hypothesis' internals moved
            pass
        finally:
            set_hypothesis_home_dir(None)


def _import_what_tutorial_runs_import() -> None:
    """The warm servers' imports and the package's modules, not the tutorials' checks.

    The check modules, and the tutorials' packages that hold them, stay out: each run
    imports them afresh, rewritten by pytest's assertion rewriting.
    """
    from pytest_tutorial.warm import warm_imports

    for name in (*warm_imports(aws=True, redis=True), *_package_modules("pytest_tutorial")):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _package_modules(package: str) -> list[str]:
    """Every module of ``package`` but ``__main__`` ones and the tutorials' folders."""
    names = [package]
    for found in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if found.name in ("__main__", "tutorials", "_bundled"):
            continue
        name = f"{package}.{found.name}"
        names.extend(_package_modules(name) if found.ispkg else [name])
    return names


def checks_in(tutorial: str, *, module: str = "check_*.py") -> int:
    """How many checks a bundled tutorial's check modules define: the count a run reports.

    A check is a ``test_*`` function, or a ``test_*`` name bound to what a factory made
    (``test_docs = documentation_check(...)``, ``test_a, test_b = own_tests_checks(...)``).
    """
    folder = REPO / "pytest_tutorial" / "tutorials" / tutorial
    names: set[str] = set()
    for path in folder.glob(module):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(f"{path.name}::{node.name}")
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    bound = target.elts if isinstance(target, ast.Tuple) else [target]
                    names.update(f"{path.name}::{n.id}" for n in bound if isinstance(n, ast.Name))
    return sum(name.split("::")[1].startswith("test_") for name in names)


def validate_report(report: dict[str, Any]) -> None:
    """Every report the tests produce must match the shipped schema."""
    import jsonschema  # a test extra: verify's probe loads this conftest in a plain install

    jsonschema.Draft202012Validator(SCHEMA).validate(report)


@dataclass
class TutorialRun:
    """What one pytester run of a tutorial gave."""

    result: pytest.RunResult
    report: dict[str, Any]

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        """Checklist items by id."""
        return {item["id"]: item for item in self.report["checklist"]}

    def status(self, item_id: str) -> str:
        """The status of one checklist item."""
        return str(self.items[item_id]["status"])

    def automated_statuses(self) -> dict[str, str]:
        """Status of every automated item."""
        return {i["id"]: i["status"] for i in self.report["checklist"] if i["automated"]}

    def checks_not_passed(self, item_id: str) -> dict[str, str]:
        """The status of each check of one item that neither passed nor was skipped, by name."""
        return {
            check["id"].rsplit("::", 1)[-1]: check["status"]
            for check in self.items[item_id]["checks"]
            if check["status"] not in ("passed", "skipped")
        }

    def checks_run(self) -> list[str]:
        """The names of the checks the run did not skip (deselected checks are skipped)."""
        return [
            check["id"].rsplit("::", 1)[-1]
            for item in self.report["checklist"]
            for check in item["checks"]
            if check["status"] != "skipped"
        ]


RunTutorial = Callable[..., TutorialRun]


def apply_edits(module: Path, edits: Sequence[tuple[str, str]], label: str) -> None:
    """Make a buggy variant of a reference module: each edit's text must occur exactly once.

    Variants are the reference with small edits, so they cannot drift from it unnoticed.
    """
    text = module.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, f"{label}: the reference no longer contains {old!r}"
        text = text.replace(old, new)
    module.write_text(text, encoding="utf-8")


def item_selection(item: str, check: str) -> str:
    """A ``-k`` expression for one checklist item's checks, ``check`` among them.

    A bundled tutorial's check modules are named after their items (``check_core*.py``), so
    the item's id selects them; naming the check too keeps it selected whatever its module.
    The learner-tests checks stay out: they start subprocesses.
    """
    return f"({item} or {check}) and not own_tests"


@pytest.fixture
def copy_solution(pytester: pytest.Pytester) -> Callable[[str, str], Path]:
    """Copy ``reference_solutions/NAME`` (or ``exercises/NAME``) into the pytester folder."""

    def copy(kind: str, name: str, *, to: str | None = None) -> Path:
        target = pytester.path / (to or f"{kind}/{name}")
        shutil.copytree(
            REPO / kind / name,
            target,
            ignore=shutil.ignore_patterns(
                "__pycache__", ".mypy_cache", ".pytest_cache", ".hypothesis"
            ),
        )
        return target

    return copy


class SharedLearnerServer:
    """One warm server of one kind for the learner-tests runs of this process's tutorial runs.

    Named to each in-process run by ``PYTEST_TUTORIAL_LEARNER_SERVER``, as ``watch`` names
    its own to every save's run: otherwise each run whose solution has tests starts its own
    (imports, a warm-up run, hypothesis' look at the modules), some sixty times in the slow
    tier. A server is of one kind: with moto and boto3 imported (``aws``, for solutions
    whose code uses AWS) or without. It starts on first use and again when a test's run
    ended it. A test marked ``own_learner_server`` runs as a learner's run does, starting
    its own.
    """

    def __init__(self, *, aws: bool) -> None:
        self.aws = aws
        self._folder = Path(tempfile.mkdtemp(prefix="suite-learner-server-"))
        self._socket = self._folder / "learner-tests.sock"
        self._server: WarmServer | None = None

    def setting(self) -> str | None:
        """The variable's value naming the running server, or None when it cannot start."""
        from pytest_tutorial.learner_model import Layout
        from pytest_tutorial.learner_tests import shared_server_setting, start_shared_server

        if self._server is None or not self._server.alive:
            self.close()
            self._socket.unlink(missing_ok=True)
            layout = Layout(self._folder, "solution", ("tests",), aws=self.aws, hypothesis=True)
            self._server = start_shared_server(layout, self._socket)
        if self._server is None:
            return None
        return shared_server_setting(self._socket, aws=self.aws)

    def close(self) -> None:
        """End the server, if it runs."""
        if self._server is not None:
            self._server.close()
            self._server = None

    def remove(self) -> None:
        """End the server and remove its folder."""
        self.close()
        shutil.rmtree(self._folder, ignore_errors=True)


@dataclass
class SharedLearnerServers:
    """This process's shared learner-tests servers: one of each kind, each started on first use."""

    plain: SharedLearnerServer
    aws: SharedLearnerServer

    def setting_for(self, solution: Path) -> str | None:
        """The variable's value for runs of ``solution``: the server of its code's kind."""
        from pytest_tutorial.learner_layout import solution_layout

        uses_aws = solution.is_dir() and solution_layout(solution, "").aws
        return (self.aws if uses_aws else self.plain).setting()


@pytest.fixture(scope="session")
def shared_learner_servers() -> Iterator[SharedLearnerServers]:
    """This process's :class:`SharedLearnerServers`, removed with the session."""
    shared = SharedLearnerServers(SharedLearnerServer(aws=False), SharedLearnerServer(aws=True))
    yield shared
    shared.plain.remove()
    shared.aws.remove()


@pytest.fixture
def run_tutorial(
    pytester: pytest.Pytester,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> RunTutorial:
    """Run ``pytest --tutorial=NAME`` in the pytester folder and return its validated report.

    Its learner-tests runs fork from the :class:`SharedLearnerServers` server of its
    solution's kind unless the test is marked ``own_learner_server`` (a run in a fresh
    process starts its own in any case).
    An in-process run can leave the solution's abandoned coroutines behind (a buggy variant
    that builds its calls and stops awaiting them when a check times out); whichever later
    garbage collection frees them, their "never awaited" warning is ignored (``pyproject.toml``).
    """
    from pytest_tutorial.learner_tests import SHARED_SERVER_VARIABLE

    shared: SharedLearnerServers | None = None
    if request.node.get_closest_marker("own_learner_server") is None:
        shared = request.getfixturevalue("shared_learner_servers")

    def run(
        name: str, *args: str, solution: Path | str | None = None, fresh_process: bool = False
    ) -> TutorialRun:
        """``fresh_process``: in a new interpreter, as a learner runs it (this process has
        imported the package already, which pytest warns about: an error under a learner's
        ``filterwarnings = error``)."""
        report_path = pytester.path / "report.json"
        report_path.unlink(missing_ok=True)
        options = [f"{TUTORIAL}={name}", f"{REPORT}={report_path}", "-p", "no:randomly", *args]
        if solution is not None:
            options.append(f"{SOLUTION}={solution}")
        if fresh_process:
            with monkeypatch.context() as patch:
                patch.delenv(SHARED_SERVER_VARIABLE, raising=False)
                result = pytester.runpytest_subprocess(*options)
        else:
            setting = None if shared is None else shared.setting_for(_solution_of(name, solution))
            if setting is not None:
                monkeypatch.setenv(SHARED_SERVER_VARIABLE, setting)
            result = pytester.runpytest(*options)
        assert report_path.is_file(), f"no report written:\n{result.stdout.str()}"
        report = json.loads(report_path.read_text(encoding="utf-8"))
        validate_report(report)
        return TutorialRun(result, report)

    return run


def _solution_of(name: str, solution: Path | str | None) -> Path:
    """The folder a run in the pytester folder (the current one) checks, as the run finds it
    (:func:`pytest_tutorial.options.solution_folder`, which needs the run's config)."""
    from pytest_tutorial.options import LEARNER_ROOT, REFERENCE, REFERENCE_ROOT

    if solution is None:
        return Path(LEARNER_ROOT, name).resolve()
    if str(solution) == REFERENCE:
        in_course = Path(REFERENCE_ROOT, name)
        return (in_course if in_course.is_dir() else REPO / REFERENCE_ROOT / name).resolve()
    return Path(solution).resolve()


@pytest.fixture(autouse=True)
def _quiet_pytest_asyncio(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytester runs have no ini: give pytest-asyncio its loop scope so it does not warn.

    (The project's ``filterwarnings = error`` would turn that warning into a crash.)
    """
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # pytester clears PYTEST_ADDOPTS when it starts
        monkeypatch.setenv("PYTEST_ADDOPTS", "-o asyncio_default_fixture_loop_scope=function")


@pytest.fixture
def worker(folder: Path) -> Iterator[Worker]:
    """A started worker process whose working folder is the test module's ``folder``."""
    from pytest_tutorial.isolation.remote import Worker

    started = Worker(cwd=str(folder))
    started.start()
    yield started
    started.stop()


def worker_facts(worker: Worker, folder: Path) -> dict[str, Any]:
    """``facts()`` of the module ``facts`` in ``folder``, imported in ``worker``."""
    from pytest_tutorial.isolation import protocol
    from pytest_tutorial.isolation.handles import Handle

    module = worker.request(protocol.IMPORT, folder=str(folder), module="facts", exports=[])
    assert isinstance(module, Handle)
    found = module.facts()
    assert isinstance(found, dict)
    return found


def facts_of_each(workers: Sequence[Worker], folder: Path) -> list[dict[str, Any]]:
    """Start every worker, then each one's :func:`worker_facts`; every worker is stopped."""
    try:
        for worker in workers:
            worker.start()
        return [worker_facts(worker, folder) for worker in workers]
    finally:
        for worker in workers:
            worker.stop()
