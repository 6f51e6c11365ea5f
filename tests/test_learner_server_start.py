"""When the warm server of the learner's test runs starts: as soon as pytest knows the options.

A first run's runs of the learner's tests wait for that server (half a second of start-up),
so it is asked for as soon as the command line is read (``pytest_load_initial_conftests``,
:mod:`pytest_tutorial.learner_server_early`) and again as the tutorial is activated, which
finds it; not at the session's start. A selection of checks (``-k``) may leave the runs
out: then it does not start at all. Under ``grade`` the launcher, in the stash before any
plugin is configured, asks for it at the session's start (forked by the job slot's warm
process); a grading child that gives up root once the checks are collected starts it with
the runs, after that. A solution whose code uses AWS gets it early too, started in the AWS
sandbox's environment, which the run sets only later. These runs start their own server,
not the suite's shared one (``own_learner_server``).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial import learner_tests
from pytest_tutorial.learner_model import Layout
from tests.conftest import RunTutorial

pytestmark = [pytest.mark.slow, pytest.mark.own_learner_server]

PROBE = '''
"""Whether the runs' server was started, or being started, when every plugin had been
configured (asked for early, by the activation, or both)."""
import os
import threading

import pytest

from pytest_tutorial import learner_tests


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    starting = any(t.name.startswith("learner-tests-warm") for t in threading.enumerate())
    with open(os.path.join(os.path.dirname(__file__), "seen.txt"), "w") as seen:
        seen.write(str(starting or bool(learner_tests._servers)))
'''
PLAIN_LAUNCHER = """
\"\"\"Learner processes as plain children, through a launcher put where grading puts its own.\"\"\"
from pytest_tutorial.isolation.launcher import LAUNCHER_KEY

provides_launcher = True  # as grading's plugin says: nothing starts one plainly before


class PlainLauncher:
    def prefix(self, cwd):
        return []

    def environment(self):
        return {}

    def fork_server(self, config, *, warmed_up, env, cwd):
        return None

    def fork_worker(self, channel, cwd):
        return None

    def fork_trusted_worker(self, channel, cwd):
        return None

    def give(self, folder):
        pass

    def describe_exit(self, end):
        return "it ended"


def pytest_cmdline_main(config):
    config.stash[LAUNCHER_KEY] = PlainLauncher()
"""

ROOT_UNTIL_SEALED = '''
"""As grade's child that runs the submission in its own process: it gives up root at the
end of collection (first of the hooks), where this records whether the runs' server was
started, or being started, already."""
import os
import threading

import pytest

from pytest_tutorial import learner_tests

seals_after_collection = True


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session):
    starting = any(t.name.startswith("learner-tests-warm") for t in threading.enumerate())
    with open(os.path.join(os.path.dirname(__file__), "sealed.txt"), "w") as sealed:
        sealed.write(str(starting or bool(learner_tests._servers)))
'''


@pytest.fixture(autouse=True)
def no_server_from_an_earlier_test() -> None:
    """The probe counts this process's runs servers: none may be left by an earlier test
    (one of another module that an xdist worker ran before, say)."""
    learner_tests.stop_all()


@pytest.fixture
def probe(pytester: pytest.Pytester) -> Callable[[], bool]:
    """A plugin that records whether the server's start-up thread runs once configured."""
    pytester.makepyfile(probe_warm_start=PROBE)
    pytester.syspathinsert()

    def seen() -> bool:
        return {"True": True, "False": False}[(pytester.path / "seen.txt").read_text()]

    return seen


def test_the_runs_server_starts_while_pytest_configures(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    probe: Callable[[], bool],
) -> None:
    folder = copy_solution("reference_solutions", "caching")
    run = run_tutorial("caching", "-p", "probe_warm_start", solution=folder)
    assert run.status("tests") == "passed"
    assert probe()


def test_a_selection_of_checks_starts_no_server(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    probe: Callable[[], bool],
) -> None:
    folder = copy_solution("reference_solutions", "caching")
    run_tutorial("caching", "-p", "probe_warm_start", "-k", "round_trip", solution=folder)
    assert not probe()


def test_with_a_launcher_the_server_waits_for_the_session_start(
    pytester: pytest.Pytester,
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    probe: Callable[[], bool],
) -> None:
    pytester.makepyfile(plain_launcher=PLAIN_LAUNCHER)
    folder = copy_solution("reference_solutions", "caching")
    options = ("-p", "plain_launcher", "-p", "probe_warm_start")
    run = run_tutorial("caching", *options, solution=folder)
    assert not probe()
    assert run.status("tests") == "passed"


def test_a_child_that_gives_up_root_after_collection_starts_the_server_after_it(
    pytester: pytest.Pytester,
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    probe: Callable[[], bool],
) -> None:
    """A server started sooner would keep root, whose runs could not write their folders."""
    pytester.makepyfile(root_until_sealed=ROOT_UNTIL_SEALED)
    folder = copy_solution("reference_solutions", "caching")
    options = ("-p", "root_until_sealed", "-p", "probe_warm_start")
    run = run_tutorial("caching", *options, solution=folder)
    assert not probe()
    assert (pytester.path / "sealed.txt").read_text() == "False"
    assert run.status("tests") == "passed"


@pytest.mark.parametrize("aws", [True, False], ids=["aws", "no-aws"])
def test_the_server_starts_in_the_aws_sandboxs_environment_not_the_learners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aws: bool
) -> None:
    """Started before the run's sandbox is set, an AWS server must not read the learner's
    profile, credentials or proxies as it warms up: it starts in the sandbox's environment."""
    from pytest_tutorial.aws_sandbox import DEAD_PROXY
    from pytest_tutorial.warm import WarmServer

    started: list[dict[str, str]] = []

    def start(*args: Any, env: dict[str, str], **kwargs: Any) -> object:
        started.append(env)
        return object()  # a server, as far as the caller can tell

    monkeypatch.setattr(WarmServer, "start", start)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/home/learner/.aws/config")
    monkeypatch.setenv("AWS_PROFILE", "learner")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("LEARNER_SETTING", "kept")
    layout = Layout(tmp_path, "document_store", ("tests",), aws=aws)
    learner_tests._start_server(layout, None)
    [env] = started
    assert env["LEARNER_SETTING"] == "kept"
    if aws:
        assert env["AWS_CONFIG_FILE"] == os.devnull
        assert "AWS_PROFILE" not in env
        assert env["HTTPS_PROXY"] == DEAD_PROXY
    else:
        assert env["AWS_CONFIG_FILE"] == "/home/learner/.aws/config"
        assert env["HTTPS_PROXY"] == "http://proxy.example:3128"


@pytest.fixture
def asked_early(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The solutions whose runs' server was asked for before the tutorial's activation."""
    # The module an inner run will import: pytester drops what an earlier run imported.
    learner_server_early = importlib.import_module("pytest_tutorial.learner_server_early")
    asked: list[Path] = []

    def prepare(layout: Layout) -> None:
        asked.append(layout.solution)

    monkeypatch.setattr(learner_server_early, "prepare", prepare)
    original = learner_server_early.ask_for_the_runs_server

    def in_this_thread(early_config: pytest.Config, name: str) -> None:
        original(early_config, name)
        for thread in threading.enumerate():
            if thread.name == learner_server_early.THREAD_NAME:
                thread.join()

    monkeypatch.setattr(learner_server_early, "ask_for_the_runs_server", in_this_thread)
    return asked


def test_the_runs_server_is_asked_for_once_the_options_are_known(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], asked_early: list[Path]
) -> None:
    folder = copy_solution("reference_solutions", "caching")
    run = run_tutorial("caching", solution=folder)
    assert asked_early == [folder.resolve()]
    assert run.status("tests") == "passed"


@pytest.mark.parametrize(
    ("options", "tutorial"),
    [
        (("-k", "round_trip"), "caching"),  # a selection
        (("-p", "plain_launcher"), "caching"),  # the grader's launcher starts it
        (("-p", "root_until_sealed"), "caching"),  # it starts once root is given up
    ],
    ids=["selection", "launcher", "root-until-sealed"],
)
def test_no_server_is_asked_for_early_where_it_must_not_start_then(
    pytester: pytest.Pytester,
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    asked_early: list[Path],
    options: tuple[str, ...],
    tutorial: str,
) -> None:
    pytester.makepyfile(plain_launcher=PLAIN_LAUNCHER, root_until_sealed=ROOT_UNTIL_SEALED)
    pytester.syspathinsert()
    folder = copy_solution("reference_solutions", tutorial)
    run_tutorial(tutorial, *options, solution=folder)
    assert asked_early == []


def test_under_watch_the_runs_use_its_server_and_none_is_asked_for_early(
    tmp_path: Path,
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    asked_early: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """watch keeps one server warm for the runs of every save: a save's run connects to it."""
    from pytest_tutorial.learner_tests import SHARED_SERVER_VARIABLE, shared_server_setting

    gone = tmp_path / "watch-stopped.sock"  # not answering: the run starts its own later
    monkeypatch.setenv(SHARED_SERVER_VARIABLE, shared_server_setting(gone, aws=False))
    folder = copy_solution("reference_solutions", "caching")
    run = run_tutorial("caching", solution=folder)
    assert asked_early == []
    assert run.status("tests") == "passed"


def test_whatever_fails_in_the_early_ask_is_left_for_the_activation(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    asked_early: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It is only a head start: the run goes on, and its runs get a server all the same."""
    learner_server_early = importlib.import_module("pytest_tutorial.learner_server_early")

    def broken(config: pytest.Config, name: str) -> Any:
        raise RuntimeError("an unexpected failure")

    monkeypatch.setattr(learner_server_early, "solution_folder", broken)
    folder = copy_solution("reference_solutions", "caching")
    run = run_tutorial("caching", solution=folder)
    assert asked_early == []
    assert run.status("tests") == "passed"
    assert "unexpected failure" not in run.result.stdout.str()


@pytest.mark.parametrize("tutorial", ["caching", "object_store"])
def test_the_server_is_asked_for_early_whether_the_code_uses_aws_or_not(
    copy_solution: Callable[..., Path], asked_early: list[Path], tutorial: str
) -> None:
    """Its server starts in the sandbox's environment (the test above), so it need not
    wait for the run to set the sandbox."""
    learner_server_early = importlib.import_module("pytest_tutorial.learner_server_early")
    folder = copy_solution("reference_solutions", tutorial)
    learner_server_early._prepare(folder)
    assert asked_early == [folder.resolve()]
