"""Run a learner's own tests against several implementations, each from the same neutral path.

"Tests pass consistently" runs the tests in the solution's ``tests/`` folder several times
against the learner's implementation, each with another shuffle seed, and once against a
correct implementation the tutorial ships (the *control*), each of its known bugs and a
sample of hidden bugs (:mod:`pytest_tutorial.fixtures.learner` makes that list).

Every run lays the same folder out afresh: a copy of the solution folder's top-level files,
packages and ``tests/``, with the contract's module (``cache_service.py``) replaced by the
implementation under test, at ``<scratch>/solution``; it runs the tests with that folder as
working directory, rootdir and front entry of ``sys.path``, then wipes it. So ``__file__``,
``__name__``, ``sys.path`` and the node ids are the same in every run, and the modules built
from the tutorial's ``known_bad.py`` import nothing of this package: a test cannot tell the
runs apart by where the code lives.

Each run is a child forked from a warm server (:mod:`pytest_tutorial.warm`: pytest, the
plugins and hypothesis, and fakeredis or moto and boto3 when the solution's code imports
them (:mod:`pytest_tutorial.learner_layout`), imported once; the child runs
:mod:`pytest_tutorial.learner_runner`), one per core at a time (more while a core is idle:
:mod:`pytest_tutorial.run_slots`), the runs against the learner's implementation first,
then the control and the bugs in an order shuffled afresh every time (a test cannot count
its way to a bug's run either: :func:`start_order`). Every run is a fresh fork
with a scratch folder and hypothesis database of its own (which starts with the session's
Unicode tables only): nothing one run leaves in memory reaches another. The child learns
no run's purpose, only the module source, the seed and whether to end at the first failing
test (the same for the control as for every bug). A run that hangs past :data:`RUN_TIMEOUT_S`,
or ends its process, costs only itself. Plugin autoloading is off in the child (the
learner's environment may hold any plugin); the plugins a learner's tests may rely on are
loaded explicitly: pytest-asyncio (``asyncio_mode = auto``) and hypothesis.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import tempfile
import threading
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from pytest_tutorial.aws_sandbox import sandboxed_environment
from pytest_tutorial.hypothesis_warmup import write_unicode_tables
from pytest_tutorial.isolation.launcher import Launcher
from pytest_tutorial.learner_layout import TESTS_FOLDER
from pytest_tutorial.learner_model import (
    Implementation,
    Kind,
    Layout,
    LearnerTestRun,
    LearnerTestsError,
)
from pytest_tutorial.run_slots import FURTHER_RUN_NICENESS, RunSlots
from pytest_tutorial.warm import (
    HYPOTHESIS_STORAGE,
    IGNORE_REWRITE_WARNING,
    NOTHING_COLLECTED,
    ServerGone,
    WarmServer,
    warm_imports,
)

RUN_TIMEOUT_S = 60.0
"""Time allowed per run (a run normally takes well under a second)."""
RUNNER_MODULE = "pytest_tutorial.learner_runner"
RUNNER_TARGET = f"{RUNNER_MODULE}:run_forked"
RUN_PLUGINS = ("pytest_asyncio.plugin", "_hypothesis_pytestplugin", "pytest_tutorial.shuffle")
"""The plugins of every run: pytest-asyncio and hypothesis, which a learner's tests may rely
on, and the shuffle. A run registers them as the modules its warm server imported
(:func:`run_plugins`): given ``-p NAME``, pytest first looks the name up among the entry
points of every installed distribution, about a tenth of a run's CPU time with a hundred
of them installed."""
OUTPUT_TAIL = 1500
INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""
HYPOTHESIS_FOLDER = "hypothesis"
"""A run's hypothesis storage folder, under its scratch folder: new for every run."""
NEUTRAL_FOLDER = "solution"
"""The name of every run's folder, under the child's scratch folder."""

SHARED_SERVER_VARIABLE = "PYTEST_TUTORIAL_LEARNER_SERVER"
"""A warm server another process keeps for these runs (JSON: ``path`` of its socket, ``aws``):
``watch`` sets it, so the runs of every save fork from one server started once."""
SEED_VARIABLE = "PYTEST_TUTORIAL_SHUFFLE_SEED"
"""Tells :mod:`pytest_tutorial.shuffle`, in the child, the run's seed."""


def run_many(
    layout: Layout,
    jobs: list[tuple[Implementation, int]],
    *,
    timeout_s: float = RUN_TIMEOUT_S,
    cancel: threading.Event | None = None,
    launcher: Launcher | None = None,
    hypothesis_tables: Mapping[str, bytes] | None = None,
    exitfirst: Collection[Kind] = (),
) -> list[LearnerTestRun]:
    """Run (implementation, seed) pairs, one forked child each, one per core at a time.

    More start while a core is idle, at a lower priority, unless graded (:mod:`.run_slots`).
    The runs start in :func:`start_order`; the results come back in the order of ``jobs``.
    Once ``cancel`` is set no new run starts (the runs left come back unfinished);
    :func:`stop_all` ends the running ones. With a ``launcher`` (grading) the runs' warm
    server is a learner process: forked as one by the job slot's warm process, or started
    through the launcher, and handed each run's folders.
    ``hypothesis_tables`` (:func:`~pytest_tutorial.hypothesis_warmup.tables_for_test_runs`)
    go into every run's new hypothesis storage folder, so tests that draw text do not each
    build hypothesis' Unicode tables (about a second of CPU per run).
    The runs against implementations of a kind in ``exitfirst`` end at their first failing
    test: a run against a bug needs only the first test that catches it.
    """
    order = start_order([implementation.kind for implementation, _ in jobs])
    stop = cancel or threading.Event()
    tables = hypothesis_tables or {}
    results: dict[int, LearnerTestRun] = {}
    slots = RunSlots(os.cpu_count() or 1, further=launcher is None)

    def run(rank: int) -> LearnerTestRun:
        index = order[rank]
        first = jobs[index][0].kind in exitfirst
        place = (slots, rank)
        try:
            return _run_job(layout, jobs[index], timeout_s, stop, launcher, tables, place, first)
        finally:
            slots.give_up(rank)  # started, or never will: the next in rank need not wait

    # Twice as many threads as slots: a run's folders are made and removed outside its slot
    # (in this process, beside checks that hold the GIL: up to a fifth of a second a run)
    # while other threads' runs go on.
    with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), 2 * slots.most))) as pool:
        results.update(zip(order, pool.map(run, range(len(order))), strict=True))
    return [results[index] for index in range(len(jobs))]


def start_order(kinds: Sequence[Kind]) -> list[int]:
    """The order in which runs of these kinds start: the learner's first, each group shuffled.

    The runs against the learner's implementation go to the end of their tests (the others
    stop at their first failure), so started first they are not the last ones left on
    one core while the other idles. Their place tells a test nothing it could not read
    from the code it runs against (the learner's own module). The control and the bugs
    start after them in one random order, so no test can tell a bug from the control by
    when it runs.
    """
    chance = random.SystemRandom()
    yours = [index for index, kind in enumerate(kinds) if kind is Kind.YOURS]
    others = [index for index, kind in enumerate(kinds) if kind is not Kind.YOURS]
    chance.shuffle(yours)
    chance.shuffle(others)
    return yours + others


def _run_job(
    layout: Layout,
    job: tuple[Implementation, int],
    timeout_s: float,
    cancel: threading.Event,
    launcher: Launcher | None,
    tables: Mapping[str, bytes],
    place: tuple[RunSlots, int],
    exitfirst: bool,
) -> LearnerTestRun:
    """One run in a child forked from the warm server; a server that dies is replaced once.

    The shared server serves several runs at once, so when it dies every run on it is
    retried, each on a server of its own: a run whose code killed the server kills only its
    own then (it ended the test process), and the runs beside it get their result.
    """
    for attempt in range(2):
        if cancel.is_set():
            why = "the runs were stopped (the check ended first)"
            return _unfinished(job, why, "", crashed=True)
        if attempt == 0:
            server = _server(layout, launcher)  # TestProcessNotStarted: no run can be made
        else:
            try:
                server = _start_server(layout, launcher)
            except TestProcessNotStarted:
                break
        try:
            return _run_forked(
                server, layout, job, timeout_s, launcher, tables, place, cancel, exitfirst
            )
        except ServerGone:
            _discard(server)
        finally:
            if attempt:
                server.close()
    return _unfinished(job, "the run ended the test process", "", crashed=True)


def _run_forked(
    server: WarmServer,
    layout: Layout,
    job: tuple[Implementation, int],
    timeout_s: float,
    launcher: Launcher | None,
    tables: Mapping[str, bytes],
    place: tuple[RunSlots, int],
    cancel: threading.Event,
    exitfirst: bool,
) -> LearnerTestRun:
    """One run: its folders made, its child run in a slot (:mod:`.run_slots`), its result read.

    ``place``: the slots and the run's rank among them (its place in the start order).

    Only the child holds the slot: making and removing the folders takes this process's
    GIL, which the checks running beside hold, so it is done while other runs go on.
    """
    implementation, seed = job
    with (
        tempfile.TemporaryDirectory(prefix="tutorial-learner-tests-") as scratch_name,
        tempfile.TemporaryDirectory(prefix="tutorial-learner-results-") as results_name,
    ):
        scratch, results = Path(scratch_name), Path(results_name)
        (scratch / "pytest.ini").write_text(INI, encoding="utf-8")
        write_unicode_tables(tables, scratch / HYPOTHESIS_FOLDER)
        if launcher is not None:
            for folder in (scratch, results):
                launcher.give(folder)
        payload = {
            "solution": str(layout.solution),
            "entries": list(layout.entries),
            "module_path": layout.module_path,
            "scratch": str(scratch),
            "source": implementation.source,
            "seed": seed,
            "exitfirst": exitfirst,
            "result": str(results / "result.json"),
        }
        environ = {
            key: value
            for key, value in os.environ.items()
            if key not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")
        }
        if launcher is not None:  # the learner process's home and temp, not the harness's
            environ.update(launcher.environment())
        environ.update(
            {
                "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
                HYPOTHESIS_STORAGE: str(scratch / HYPOTHESIS_FOLDER),
            }
        )
        output = results / "output"
        slots, rank = place
        with slots.slot(rank) as further:
            if cancel.is_set():
                why = "the runs were stopped (the check ended first)"
                return _unfinished(job, why, "", crashed=True)
            payload["niceness"] = FURTHER_RUN_NICENESS if further else 0
            ended = server.run(
                RUNNER_TARGET,
                payload,
                output=output,
                timeout_s=timeout_s,
                cwd=scratch,
                environ=environ,
            )
        tail = (
            output.read_bytes().decode(errors="replace")[-OUTPUT_TAIL:] if output.exists() else ""
        )
        result_file = results / "result.json"
        result = _result(result_file.read_bytes()) if result_file.is_file() else None
    if ended.timed_out:
        return _unfinished(
            job, f"the run did not finish within {timeout_s:g} s", tail, crashed=False
        )
    if result is None:
        return _unfinished(job, "the run ended the test process", tail, crashed=True)
    return LearnerTestRun(implementation, seed, **result)


def _unfinished(
    job: tuple[Implementation, int], why: str, output: str, *, crashed: bool
) -> LearnerTestRun:
    """A run without a result; its output starts with why."""
    tail = output[-max(0, OUTPUT_TAIL - len(why) - 1) :] if output else ""
    text = f"{why}\n{tail}" if tail else why
    return LearnerTestRun(job[0], job[1], -1, {}, (), text, not crashed, crashed)


def _result(line: bytes) -> dict[str, Any] | None:
    """One run's result as the child wrote it, or None when it is not one."""
    try:
        data = json.loads(line)
        outcomes = {str(k): str(v) for k, v in dict(data["outcomes"]).items()}
        return {
            "exit_code": int(data["exit_code"]),
            "outcomes": outcomes,
            "collection_errors": tuple(str(e) for e in data["collection_errors"]),
            "output": str(data["output"])[-OUTPUT_TAIL:],
        }
    except (ValueError, KeyError, TypeError):
        return None


class TestProcessNotStarted(LearnerTestsError):
    """The process that runs the learner's tests could not start: the harness's problem.

    No run is made, so the ``tests`` checks say this instead of judging the tests.
    """

    __test__ = False  # a name pytest would otherwise collect from a module that imports it

    def __init__(self, why: str, fix: str = "") -> None:
        super().__init__(
            "the harness could not start the process that runs your tests, so they were not "
            f"judged: {why}{f'. {fix}' if fix else ''}"
        )


NOT_STARTED_FIX = (
    "That process is a new Python started outside your folder, so pytest-tutorial must be "
    "installed where it finds it (pip install pytest-tutorial, or pip install -e . in a "
    "checkout), not only importable from the current folder"
)
"""What a learner can do when the runs' process cannot start (nearly always: the package
is importable only from the current folder, or its install is broken). Under ``grade``
the process is the grader's, so the message says only why."""

SERVER_REGION = "us-east-1"
"""The region of an AWS server's own start-up; each run has the run's whole environment."""
_RUN_FLAGS = {"PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
_servers: dict[tuple[bool, bool, bool, int], WarmServer] = {}
"""The warm servers of this process, by whether they have moto and boto3 imported, and
fakeredis and redis-py, whether hypothesis has looked at their modules, and by the launcher
they were started through (``id``; 0 for none)."""
_not_started: dict[tuple[bool, bool, bool, int], TestProcessNotStarted] = {}
"""Why a server of that kind could not start: the other runs of the session say the same
at once instead of each trying again (:func:`stop_all` forgets it)."""
_servers_lock = threading.Lock()


def prepare(layout: Layout, launcher: Launcher | None = None) -> None:
    """Start the warm server that runs of ``layout`` will fork from, if it is not running.

    Called ahead of :func:`run_many` (while the checks are collected) so the runs find it
    warm; returns once it is ready or could not start.
    """
    _server(layout, launcher)


def _server(layout: Layout, launcher: Launcher | None) -> WarmServer:
    """The shared warm server for runs of this kind, started on first use.

    Without a launcher, a server named by :data:`SHARED_SERVER_VARIABLE` for runs of this
    kind is used when it answers. Raises :class:`TestProcessNotStarted`.
    """
    key = (layout.aws, layout.redis, layout.hypothesis, 0 if launcher is None else id(launcher))
    with _servers_lock:
        server = _servers.get(key)
        if server is not None and server.alive:
            return server
        if key in _not_started:
            raise _not_started[key]
        server = _connect_shared(layout.aws) if launcher is None else None
        try:
            server = server or _start_server(layout, launcher)
        except TestProcessNotStarted as error:
            _not_started[key] = error
            raise
        _servers[key] = server
        return server


def shared_server_setting(path: Path, *, aws: bool) -> str:
    """The value of :data:`SHARED_SERVER_VARIABLE` for a server listening at ``path``."""
    return json.dumps({"path": str(path), "aws": aws})


def shared_server_socket(*, aws: bool | None = None) -> Path | None:
    """The socket of the server :data:`SHARED_SERVER_VARIABLE` names, or None.

    ``aws``: only a server of that kind (None: either). The server may be gone since.
    """
    try:
        shared = json.loads(os.environ.get(SHARED_SERVER_VARIABLE, ""))
        if aws is not None and bool(shared["aws"]) is not aws:
            return None
        return Path(shared["path"])
    except (ValueError, KeyError, TypeError):
        return None


def _connect_shared(aws: bool) -> WarmServer | None:
    path = shared_server_socket(aws=aws)
    return None if path is None else WarmServer.connect(path)


def start_shared_server(layout: Layout, listen: Path) -> WarmServer | None:
    """A warm server for runs of ``layout``'s kind that other processes reach at ``listen``.

    None when it cannot start (each run then starts its own, and reports why it could not).
    """
    try:
        return _start_server(layout, None, listen=listen)
    except TestProcessNotStarted:
        return None


def _start_server(
    layout: Layout, launcher: Launcher | None, *, listen: Path | None = None
) -> WarmServer:
    """A new warm server for runs of ``layout``'s kind; raises :class:`TestProcessNotStarted`.

    moto and boto3 are imported when its code uses AWS, fakeredis and redis-py when it uses
    Redis; when its tests use hypothesis, hypothesis looks at the server's modules before
    any run (:func:`~pytest_tutorial.hypothesis_warmup.mine_constants_before_forks`). With a
    ``launcher`` it is a learner process, in its environment: forked by the job
    slot's warm process where the launcher can ask one, else started through it.
    """
    if launcher is None:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    else:
        env = dict(launcher.environment())
    env.update(_RUN_FLAGS)
    if layout.aws:  # it may start before the run's sandbox is set (learner_server_early)
        env = sandboxed_environment(env, SERVER_REGION)
    with tempfile.TemporaryDirectory(prefix="tutorial-learner-warm-up-") as name:
        empty = Path(name)
        warmup, _ = lay_out_warm_up(empty)
        imports = (*warm_imports(aws=layout.aws, redis=layout.redis), RUNNER_MODULE)
        if launcher is not None:
            # The slot's server made the warm-up run once for the batch (grading's
            # warm_slots): the fork starts warm, with no run of its own (exit code 0).
            config: dict[str, Any] = {
                "imports": list(imports),
                "pytest_warmup": None,
                "mine_constants": layout.hypothesis,
            }
            forked = launcher.fork_server(
                config, warmed_up=(0,), env=env, cwd=Path(tempfile.gettempdir())
            )
            if forked is not None:
                return forked
            launcher.give(empty)
        why: list[str] = []
        server = WarmServer.start(
            imports,
            pytest_warmup=warmup,
            warmed_up=(NOTHING_COLLECTED,),
            cwd=Path(tempfile.gettempdir()),
            env=env,
            python_flags=("-P",),
            prefix=() if launcher is None else launcher.prefix(Path(tempfile.gettempdir())),
            listen=listen,
            mine_constants=layout.hypothesis,
            on_failure=why.append,
        )
    if server is None:
        fix = NOT_STARTED_FIX if launcher is None else ""
        raise TestProcessNotStarted(why[0] if why else "it did not say why", fix)
    return server


def _discard(server: WarmServer) -> None:
    with _servers_lock:
        for key, known in list(_servers.items()):
            if known is server:
                del _servers[key]
    server.close()


def stop_all() -> None:
    """End every run still going (abandoned, e.g. after a check timeout), and the servers.

    A server that could not start is tried again by the next runs.
    """
    with _servers_lock:
        servers = list(_servers.values())
        _servers.clear()
        _not_started.clear()
    for server in servers:
        server.close()


def runs_everything(option: Any, *, xdist_worker: bool) -> bool:
    """Whether a run with these options runs every check, not under xdist.

    A selection (``-k``, ``-m``, ``--collect-only``) may leave the runs out. ``option``: the
    parsed options, or the known arguments before pytest has parsed them.
    """
    if xdist_worker or getattr(option, "numprocesses", None):
        return False
    selection = ("collectonly", "keyword", "markexpr")
    return not any(getattr(option, name, None) for name in selection)


def pytest_arguments(folder: Path, ini: Path) -> list[str]:
    """The arguments of a run of the tests in ``folder/tests`` (the same for every run).

    The plugins are not among them: a run passes :func:`run_plugins` to ``pytest.main``.
    """
    return [
        str(folder / TESTS_FOLDER),
        "-c",
        str(ini),
        "--rootdir",
        str(folder),
        "-q",
        "--tb=line",  # only the outcomes and the last lines are read: no source listings
        "-p",
        "no:cacheprovider",
        *IGNORE_REWRITE_WARNING,  # the plugins were imported by the warm server
    ]


def lay_out_warm_up(folder: Path) -> tuple[list[str], dict[str, str]]:
    """Make ``folder`` a runs' warm-up folder; the warm-up run's arguments and environment.

    Its ``pytest.ini`` and empty ``tests`` folder; the run is :func:`warm_up_arguments`
    with the runs' own flags set (no plugin autoloading, no bytecode written).
    """
    (folder / "pytest.ini").write_text(INI, encoding="utf-8")
    (folder / TESTS_FOLDER).mkdir(exist_ok=True)
    return warm_up_arguments(folder), dict(_RUN_FLAGS)


def warm_up_arguments(empty: Path) -> list[str]:
    """A run's set-up without a test, on ``empty`` (its ``pytest.ini`` and empty ``tests``).

    pytest's own modules and the plugins are then loaded in the warm server. The plugins
    are named with ``-p``: the warm-up is a command line, and it runs once a server.
    """
    plugins = [argument for name in RUN_PLUGINS for argument in ("-p", name)]
    return [*pytest_arguments(empty, empty / "pytest.ini"), *plugins, "--collect-only"]


def run_plugins() -> list[ModuleType]:
    """The modules of :data:`RUN_PLUGINS`, imported (the warm server has them already)."""
    return [importlib.import_module(name) for name in RUN_PLUGINS]


def result_line(
    exit_code: int, outcomes: Mapping[str, str], collection_errors: list[str], output: str
) -> bytes:
    """One line of the child's results pipe."""
    data = {
        "exit_code": exit_code,
        "outcomes": dict(outcomes),
        "collection_errors": collection_errors,
        "output": output[-OUTPUT_TAIL:],
    }
    return json.dumps(data).encode() + b"\n"
