"""Runs of a learner's tests in child processes: the neutral path, hangs and crashes.

A tiny solution (``cache_service.py`` with a ``WHO`` constant, and tests that record what
they can see of their surroundings) is run against several module sources. Every run must
look the same from inside, except for the module's code.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial import learner_layout, learner_tests, run_slots
from pytest_tutorial.learner_layout import solution_layout
from pytest_tutorial.learner_model import Implementation, Kind, LearnerTestsError
from pytest_tutorial.learner_tests import run_many

pytestmark = pytest.mark.slow

OBSERVE = "LEARNER_TESTS_OBSERVE"
TESTS = """
import json, os, random, sys
import cache_service


def test_records_what_it_sees():
    seen = {
        "who": cache_service.WHO,
        "file": cache_service.__file__,
        "name": cache_service.__name__,
        "cwd": os.getcwd(),
        "paths": sys.path[:2],
        "tutorial_modules": sorted(m for m in sys.modules if m.startswith("pytest_tutorial.tut")),
        "listing": sorted(os.listdir(".")),
        "random": random.random(),
        "seed": os.environ["PYTEST_TUTORIAL_SHUFFLE_SEED"],
        "fakes_loaded": sorted(m for m in ("fakeredis", "redis", "moto") if m in sys.modules),
    }
    label = f"{cache_service.WHO}-{os.environ['PYTEST_TUTORIAL_SHUFFLE_SEED']}"
    with open(os.path.join(os.environ["LEARNER_TESTS_OBSERVE"], label), "w") as out:
        json.dump(seen, out)


def test_value():
    assert cache_service.value() == 1
"""


def module(who: str, body: str = "def value():\n    return 1\n") -> str:
    return f"WHO = {who!r}\n\n{body}"


@pytest.fixture
def solution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "my_solution"
    (folder / "tests").mkdir(parents=True)
    (folder / "cache_service.py").write_text(module("yours"), encoding="utf-8")
    (folder / "helpers.py").write_text("HELP = 1\n", encoding="utf-8")
    (folder / "notes").mkdir()  # not a package: not copied
    (folder / "tests" / "test_cache.py").write_text(TESTS, encoding="utf-8")
    observe = tmp_path / "observed"
    observe.mkdir()
    monkeypatch.setenv(OBSERVE, str(observe))
    return folder


def observations(solution: Path) -> list[dict[str, object]]:
    folder = solution.parent / "observed"
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.iterdir())]


def test_every_run_sees_the_same_neutral_surroundings(solution: Path) -> None:
    jobs = [(Implementation(Kind.YOURS), seed) for seed in (1, 2)]
    jobs += [
        (Implementation(Kind.CONTROL, source=module("control")), 1),
        (
            Implementation(Kind.KNOWN, "bug", source=module("bug", "def value():\n    return 2\n")),
            1,
        ),
    ]
    runs = run_many(solution_layout(solution, "cache_service"), jobs)
    assert [run.implementation.kind for run in runs] == [job[0].kind for job in jobs]
    assert [run.passed for run in runs] == [2, 2, 2, 1]
    assert runs[3].tests("failed") == ["tests/test_cache.py::test_value"]
    seen = observations(solution)
    assert sorted(str(s["who"]) for s in seen) == ["bug", "control", "yours", "yours"]
    draws = {(s["who"], s["seed"]): s["random"] for s in seen}
    assert draws["yours", "1"] == draws["control", "1"] == draws["bug", "1"]  # seeded per run
    assert draws["yours", "1"] != draws["yours", "2"]
    for each in seen:
        cwd = str(each["cwd"])
        assert Path(cwd).name == "solution"
        assert each["file"] == os.path.join(cwd, "cache_service.py")
        assert each["paths"] == [os.path.join(cwd, "tests"), cwd]  # pytest's, then the run's
        assert each["name"] == "cache_service"
        assert each["tutorial_modules"] == []
        assert each["listing"] == ["cache_service.py", "helpers.py", "tests"]
    assert sorted(p.name for p in solution.iterdir()) == [
        "cache_service.py",
        "helpers.py",
        "notes",
        "tests",
    ]
    assert sorted(p.name for p in (solution / "tests").iterdir()) == ["test_cache.py"]


@pytest.mark.parametrize(
    ("helper", "loaded"),
    [
        ("HELP = 1\n", []),
        ("import fakeredis  # noqa\n", ["fakeredis", "redis"]),
        ("from redis import Redis\n", ["fakeredis", "redis"]),
    ],
)
def test_a_solution_that_imports_no_redis_gets_a_server_without_it(
    solution: Path, helper: str, loaded: list[str]
) -> None:
    """fakeredis and redis-py (with NumPy where installed) are 0.2 s of the server's start-up."""
    (solution / "helpers.py").write_text(helper, encoding="utf-8")
    layout = solution_layout(solution, "cache_service")
    assert layout.redis is bool(loaded)
    run_many(layout, [(Implementation(Kind.YOURS), 1)])
    [seen] = observations(solution)
    assert seen["fakes_loaded"] == loaded  # the run itself imports neither


@pytest.mark.parametrize("mentioned", [True, False])
def test_tests_that_use_hypothesis_get_a_server_that_had_it_look_at_its_modules(
    solution: Path, mentioned: bool
) -> None:
    """Their first hypothesis test then looks only at what the run imported (a few
    hundredths of a second a run); tests that never mention hypothesis do not pay for it."""
    name = "'hypothesis'" if mentioned else "'hypo' + 'thesis'"  # the source mentions it or not
    (solution / "tests" / "test_cache.py").write_text(
        "import importlib, os, sys\n\n"
        "def test_records_what_was_seen():\n"
        f"    providers = importlib.import_module({name} + '.internal.conjecture.providers')\n"
        "    seen = id(sys.modules['pytest']) in providers._seen_modules\n"
        "    with open(os.path.join(os.environ['LEARNER_TESTS_OBSERVE'], 'seen'), 'w') as out:\n"
        "        out.write(str(seen))\n",
        encoding="utf-8",
    )
    layout = solution_layout(solution, "cache_service")
    assert layout.hypothesis is mentioned
    [run] = run_many(layout, [(Implementation(Kind.YOURS), 1)])
    assert run.passed == 1, run.output
    assert (solution.parent / "observed" / "seen").read_text(encoding="utf-8") == str(mentioned)


def test_every_run_starts_with_the_unicode_tables_it_is_given(solution: Path) -> None:
    """Tests that draw text then read hypothesis' tables instead of building them (about a
    second of CPU in each run)."""
    (solution / "tests" / "test_cache.py").write_text(
        "import os\n\n"
        "def test_the_tables_are_there():\n"
        "    home = os.environ['HYPOTHESIS_STORAGE_DIRECTORY']\n"
        "    with open(os.path.join(home, 'unicode_data', 'table.json.gz'), 'rb') as table:\n"
        "        assert table.read() == b'the table'\n",
        encoding="utf-8",
    )
    jobs = [(Implementation(Kind.YOURS), seed) for seed in (1, 2)]
    tables = {"unicode_data/table.json.gz": b"the table"}
    layout = solution_layout(solution, "cache_service")
    runs = run_many(layout, jobs, hypothesis_tables=tables)
    assert [run.passed for run in runs] == [1, 1]
    assert [run.passed for run in run_many(layout, jobs)] == [0, 0]


def test_a_runs_folders_are_made_and_removed_while_other_runs_go_on(
    solution: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the child holds a slot: removing a run's folders took up to a fifth of a second
    beside busy checks (they hold the GIL), and the next run waited for it."""
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    monkeypatch.setattr(run_slots, "idle_core", lambda cores: False)

    class SlowToRemove(tempfile.TemporaryDirectory):  # type: ignore[type-arg]
        def __exit__(self, *exc: Any) -> None:
            time.sleep(1.0)
            super().__exit__(*exc)

    monkeypatch.setattr(tempfile, "TemporaryDirectory", SlowToRemove)
    (solution / "tests" / "test_cache.py").write_text(
        "import os, time\n\n"
        "def test_records_when_it_ran():\n"
        "    began = time.time()\n"
        "    seed = os.environ['PYTEST_TUTORIAL_SHUFFLE_SEED']\n"
        "    with open(os.path.join(os.environ['LEARNER_TESTS_OBSERVE'], seed), 'w') as out:\n"
        "        out.write(f'{began} {time.time()}')\n",
        encoding="utf-8",
    )
    jobs = [(Implementation(Kind.YOURS), seed) for seed in (1, 2, 3)]
    runs = run_many(solution_layout(solution, "cache_service"), jobs)
    assert [run.passed for run in runs] == [1, 1, 1]
    folder = solution.parent / "observed"
    spans = sorted(
        tuple(map(float, path.read_text(encoding="utf-8").split())) for path in folder.iterdir()
    )
    gaps = [later[0] - earlier[1] for earlier, later in itertools.pairwise(spans)]
    assert max(gaps) < 0.7, gaps  # not the second each run's folders take to remove


@pytest.mark.parametrize("idle", [True, False])
def test_runs_beyond_one_per_core_start_on_an_idle_core_at_a_lower_priority(
    solution: Path, monkeypatch: pytest.MonkeyPatch, idle: bool
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    monkeypatch.setattr(run_slots, "idle_core", lambda cores: idle)
    (solution / "tests" / "test_cache.py").write_text(
        "import os, time\n\n"
        "def test_records_its_niceness():\n"
        "    seed = os.environ['PYTEST_TUTORIAL_SHUFFLE_SEED']\n"
        "    with open(os.path.join(os.environ['LEARNER_TESTS_OBSERVE'], seed), 'w') as out:\n"
        "        out.write(str(os.nice(0)))\n"
        "    time.sleep(0.5)  # the runs overlap when they may\n",
        encoding="utf-8",
    )
    base = os.nice(0)
    jobs = [(Implementation(Kind.YOURS), seed) for seed in (1, 2)]
    runs = run_many(solution_layout(solution, "cache_service"), jobs)
    assert all(run.all_passed for run in runs)
    observed = solution.parent / "observed"
    niceness = sorted(int(path.read_text(encoding="utf-8")) for path in observed.iterdir())
    further = min(base + run_slots.FURTHER_RUN_NICENESS, 19)
    assert niceness == ([base, further] if idle else [base, base])


def test_a_run_that_hangs_or_ends_its_process_costs_only_itself(
    solution: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 1)  # one child runs them all
    hangs = module("hangs", "import time\ntime.sleep(3600)\n")
    dies = module("dies", "import os\nos._exit(3)\n")
    jobs = [
        (Implementation(Kind.YOURS), 1),
        (Implementation(Kind.HIDDEN, "hangs", source=hangs), 1),
        (Implementation(Kind.HIDDEN, "dies", source=dies), 1),
        (Implementation(Kind.CONTROL, source=module("control")), 1),
    ]
    # A run of these tests takes well under a second; the hanging one costs the whole limit.
    runs = run_many(solution_layout(solution, "cache_service"), jobs, timeout_s=15)
    yours, hung, died, control = runs
    assert yours.all_passed
    assert control.all_passed
    assert hung.timed_out
    assert not hung.crashed
    assert "did not finish within 15 s" in hung.output
    assert died.crashed
    assert not died.timed_out
    assert "ended the test process" in died.output


def test_a_run_that_kills_the_warm_server_costs_only_itself(solution: Path) -> None:
    kills = module("kills", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n")
    jobs = [
        (Implementation(Kind.YOURS), 1),
        (Implementation(Kind.HIDDEN, "kills", source=kills), 1),
        (Implementation(Kind.CONTROL, source=module("control")), 1),
    ]
    yours, killer, control = run_many(solution_layout(solution, "cache_service"), jobs)
    assert yours.all_passed
    assert control.all_passed
    assert killer.crashed
    assert "ended the test process" in killer.output


def test_no_child_starts_once_the_runs_are_cancelled(solution: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    jobs = [(Implementation(Kind.YOURS), 1), (Implementation(Kind.CONTROL, source="x = 1\n"), 1)]
    runs = run_many(solution_layout(solution, "cache_service"), jobs, cancel=cancel)
    assert all(run.crashed and "stopped" in run.output for run in runs)
    assert not list((solution.parent / "observed").iterdir())


def test_a_solution_folder_too_big_to_copy_is_the_learners_error(
    solution: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(learner_layout, "MAX_COPIED_FILES", 2)
    with pytest.raises(LearnerTestsError, match="too much to copy"):
        solution_layout(solution, "cache_service")


def test_runs_fork_from_a_shared_server_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "mine"
    (folder / "tests").mkdir(parents=True)
    (folder / "cache_service.py").write_text("X = 1\n", encoding="utf-8")
    (folder / "tests" / "test_parent.py").write_text(
        "import os\n\n\ndef test_parent():\n"
        "    with open(os.environ['PARENT_FILE'], 'w') as out:\n"
        "        out.write(str(os.getppid()))\n",
        encoding="utf-8",
    )
    socket = tmp_path / "learner-tests.sock"
    layout = solution_layout(folder, "cache_service")
    shared = learner_tests.start_shared_server(layout, socket)
    assert shared is not None
    assert shared.process is not None
    jobs = [(Implementation(Kind.YOURS), 1)]
    try:
        learner_tests.stop_all()  # no server of this process left from an earlier test
        setting = learner_tests.shared_server_setting(socket, aws=False)
        monkeypatch.setenv(learner_tests.SHARED_SERVER_VARIABLE, setting)
        parents = []
        for number in (1, 2):
            monkeypatch.setenv("PARENT_FILE", str(tmp_path / f"parent-{number}"))
            [run] = run_many(layout, jobs)
            learner_tests.stop_all()  # leaves the shared server, which keeps serving
            assert run.all_passed, run.output
            parents.append(int((tmp_path / f"parent-{number}").read_text(encoding="utf-8")))
        assert parents == [shared.process.pid] * 2
        assert shared.alive
    finally:
        learner_tests.stop_all()
        shared.close()


PLUGIN_TESTS = """
import asyncio

from hypothesis import given, strategies as st


def test_the_plugins_are_registered(pytestconfig):
    names = ("pytest_asyncio.plugin", "_hypothesis_pytestplugin", "pytest_tutorial.shuffle")
    assert all(pytestconfig.pluginmanager.has_plugin(name) for name in names)


async def test_a_coroutine_runs_in_auto_mode():
    await asyncio.sleep(0)


@given(st.integers())
def test_a_property_runs(number):
    assert isinstance(number, int)
"""
ONE_RUN = """
import importlib, importlib.metadata, json, sys

from pytest_tutorial import learner_runner
from pytest_tutorial.warm import warm_imports

for name in warm_imports(aws=False, redis=False):  # as the warm server does
    importlib.import_module(name)
looked = []
distributions = importlib.metadata.distributions
importlib.metadata.distributions = lambda **kw: looked.append(1) or distributions(**kw)
spec = json.loads(sys.argv[1])
line = learner_runner.run_one(spec, None, 7)
print(json.dumps({"looked": len(looked), "result": json.loads(line)}))
"""


def test_a_run_registers_its_plugins_without_looking_through_the_installed_packages(
    tmp_path: Path,
) -> None:
    """pytest looks ``-p NAME`` up among every distribution's entry points first: a tenth
    of a run's CPU time. A run registers the modules instead, and its tests still find
    pytest-asyncio (auto mode), hypothesis and the shuffle."""
    solution = tmp_path / "my_solution"
    (solution / "tests").mkdir(parents=True)
    (solution / "cache_service.py").write_text("", encoding="utf-8")
    (solution / "tests" / "test_plugins.py").write_text(PLUGIN_TESTS, encoding="utf-8")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "pytest.ini").write_text(learner_tests.INI, encoding="utf-8")
    spec = {
        "solution": str(solution),
        "entries": ["cache_service.py", "tests"],
        "module_path": "cache_service.py",
        "scratch": str(scratch),
    }
    environment = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    environment.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        [sys.executable, "-c", ONE_RUN, json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
        cwd=scratch,
        env=environment,
        timeout=120,
    )
    answer = json.loads(done.stdout.splitlines()[-1])
    result = answer["result"]
    assert result["exit_code"] == 0, result["output"]
    assert sorted(result["outcomes"].values()) == ["passed"] * 3
    assert answer["looked"] == 0


def test_runs_of_the_kinds_named_end_at_their_first_failing_test(solution: Path) -> None:
    """A run against a bug needs only the test that catches it; the others run every test."""
    (solution / "tests" / "test_cache.py").write_text(
        "def test_one():\n    assert False\n\n\n"
        "def test_two():\n    assert False\n\n\n"
        "def test_three():\n    assert False\n",
        encoding="utf-8",
    )
    bug = Implementation(Kind.HIDDEN, "bug", "", module("bug"))
    jobs = [(Implementation(Kind.YOURS), 1), (bug, 1)]
    layout = solution_layout(solution, "cache_service")
    yours, against_bug = run_many(layout, jobs, exitfirst={Kind.HIDDEN})
    assert (yours.failed, against_bug.failed) == (3, 1)
    assert against_bug.collected == 1


def test_the_runs_against_the_learners_code_start_first_the_others_in_a_random_order() -> None:
    """Theirs run every test, so they go first; a bug's place must tell a test nothing."""
    kinds = [Kind.CONTROL, Kind.YOURS, Kind.KNOWN, Kind.YOURS, Kind.HIDDEN, Kind.HIDDEN]
    orders = [learner_tests.start_order(kinds) for _ in range(60)]
    for order in orders:
        assert sorted(order) == list(range(len(kinds)))
        assert {order[0], order[1]} == {1, 3}
    assert len({tuple(order[2:]) for order in orders}) > 1
    assert {order[2] for order in orders} == {0, 2, 4, 5}  # the control first as often as not


def test_run_many_starts_the_runs_against_the_learners_code_first(
    solution: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One run at a time (one core, never idle): none against a bug before all of theirs."""

    def one_core(cores: int, *, further: bool) -> run_slots.RunSlots:
        return run_slots.RunSlots(1, further=further, has_idle_core=lambda cores: False)

    monkeypatch.setattr(learner_tests, "RunSlots", one_core)
    (solution / "tests" / "test_cache.py").write_text(
        "import os, cache_service\n\n\n"
        "def test_started():\n"
        "    path = os.path.join(os.environ['LEARNER_TESTS_OBSERVE'], 'started')\n"
        "    with open(path, 'a') as out:\n"
        "        out.write(cache_service.WHO + '\\n')\n",
        encoding="utf-8",
    )
    bugs = [(Implementation(Kind.HIDDEN, f"bug {n}", "", module(f"bug {n}")), 1) for n in range(4)]
    yours = [(Implementation(Kind.YOURS), seed) for seed in (1, 2, 3)]
    run_many(solution_layout(solution, "cache_service"), bugs + yours)
    started = (solution.parent / "observed" / "started").read_text().split("\n")[:-1]
    assert started[:3] == ["yours"] * 3
    assert sorted(started[3:]) == [f"bug {n}" for n in range(4)]
