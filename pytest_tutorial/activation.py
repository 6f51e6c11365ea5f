"""Turn a pytest run into a tutorial run: resolve the tutorial, the options and the fixtures.

Called from the plugin's ``pytest_configure`` only when ``--tutorial`` is given.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_tutorial import heap
from pytest_tutorial.collection_scope import CheckModulesOnly
from pytest_tutorial.discovery import get_tutorial
from pytest_tutorial.document import parse_tutorial
from pytest_tutorial.errors import usage_error
from pytest_tutorial.fixtures import FIXTURE_MODULES
from pytest_tutorial.hypothesis_warmup import keep_unicode_tables, reuse_unicode_tables
from pytest_tutorial.model import ValidationMethod
from pytest_tutorial.options import (
    HYPOTHESIS_HOME,
    TUTORIAL,
    prepare_state_dir,
    read_settings,
    tutorial_roots,
    user_cache_dir,
)
from pytest_tutorial.session import SESSION_KEY, TutorialSession
from pytest_tutorial.stack_room import RoomyTestLoop


def activate(config: pytest.Config, name: str) -> TutorialSession:
    """Register the session and fixtures, and make the tutorial's checks the run's tests."""
    _silence_plugin_warnings()
    _checklist_first(config)
    source = get_tutorial(name, tutorial_roots(config))
    tutorial = parse_tutorial(source.document, name)
    if tutorial.metadata.validation_method is not ValidationMethod.AUTOMATED:
        raise usage_error(
            f"{TUTORIAL}={name}: validation_method is "
            f"'{tutorial.metadata.validation_method.value}', so it has no automated checks",
            path=tutorial.path,
            line=tutorial.front_matter_lines.get("validation_method"),
            fix="set validation_method: automated and add a validation block, or check the "
            "tutorial by hand",
        )
    settings = read_settings(config, name)
    session = TutorialSession(config, settings, source, tutorial)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "tutorial-session")
    heap.track(config)
    for module in FIXTURE_MODULES:
        config.pluginmanager.import_plugin(module)
    # The checks are given as explicit paths, so the learner's python_files and testpaths
    # neither hide them nor collect them twice.
    check_modules = source.check_modules()
    config.args = [str(path) for path in check_modules]
    config.pluginmanager.register(CheckModulesOnly(check_modules), "tutorial-collection-scope")
    config.pluginmanager.register(RoomyTestLoop(), "tutorial-roomy-test-loop")
    state_dir = prepare_state_dir(settings.state_dir)
    restore = _configure_hypothesis(state_dir)
    _keep_benchmark_storage_out_of_the_way(config, state_dir)
    config.add_cleanup(restore)
    return session


PYTEST_DEFAULT_TRACEBACKS = "auto"
PYTEST_DEFAULT_REPORTCHARS = "fE"


def _checklist_first(config: pytest.Config) -> None:
    """Make the checklist the run's main output, unless the learner asked for more.

    Tracebacks (``--tb``), the short summary of failures (``-r``), the session header and
    the per-file progress lines are off by default (pytest runs as with ``-q``): the
    checklist names every failing check with its message, and a traceback would show
    harness frames and the check's source with its hints. ``--tb=short`` (or long) brings
    tracebacks back, filtered to the learner's frames; ``-r`` and ``-v`` bring the rest back.
    """
    option = config.option
    if option.tbstyle == PYTEST_DEFAULT_TRACEBACKS:
        option.tbstyle = "no"
    if option.reportchars == PYTEST_DEFAULT_REPORTCHARS:
        option.reportchars = "N"
    if config.get_verbosity() <= 0:
        option.no_header = True
    if config.get_verbosity() == 0:
        option.verbose = -1  # one line of progress marks instead of a line per check file


def _silence_plugin_warnings() -> None:
    """Keep other plugins' warnings about settings the tutorial run takes care of away.

    pytest-asyncio's "loop scope is unset" deprecation: the checks set their loop scope
    themselves, so the learner's ini setting (or its absence) does not matter. This runs
    before pytest-asyncio's own ``pytest_configure``, which issues the warning.
    pytest-benchmark's "disabled because xdist is active": verdicts never depend on
    pytest-benchmark, and under ``-n`` they work the same.
    """
    warnings.filterwarnings(
        "ignore",
        message='The configuration option "asyncio_default_fixture_loop_scope" is unset',
        category=pytest.PytestDeprecationWarning,
    )
    warnings.filterwarnings(
        "ignore", message="Benchmarks are automatically disabled because xdist plugin is active"
    )


PYTEST_BENCHMARK_DEFAULT_STORAGE = "file://./.benchmarks"


def _keep_benchmark_storage_out_of_the_way(config: pytest.Config, state_dir: Path) -> None:
    """Point pytest-benchmark's storage into the state folder unless the learner chose one.

    pytest-benchmark creates its storage folder (``./.benchmarks``) in every run it is
    loaded in; this runs before its ``pytest_configure``, so the learner's folder stays clean.
    """
    option = getattr(config.option, "benchmark_storage", None)
    if option == PYTEST_BENCHMARK_DEFAULT_STORAGE:
        config.option.benchmark_storage = f"file://{state_dir / 'benchmarks'}"


def _configure_hypothesis(state_dir: Path) -> Callable[[], None]:
    """A profile that is deterministic under CI and keeps its database out of the code folder.

    Returns the function that puts back the previous profile and storage folder.
    """
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.configuration import set_hypothesis_home_dir
    from hypothesis.database import DirectoryBasedExampleDatabase

    home = str(state_dir / HYPOTHESIS_HOME)
    set_hypothesis_home_dir(home)
    with contextlib.suppress(OSError):  # without them hypothesis builds its own
        reuse_unicode_tables(Path(home), user_cache_dir())
    in_ci = bool(os.environ.get("CI"))
    settings.register_profile(
        "pytest-tutorial",
        derandomize=in_ci,
        database=None if in_ci else DirectoryBasedExampleDatabase(home + "/examples"),
        deadline=None,
        max_examples=60,
        # The learner gets the shrunk example and a rerun command from the harness; the
        # reproduce_failure blob and the "explain" phase (slow on a failing starter) are
        # for the check's author.
        print_blob=False,
        phases=[phase for phase in Phase if phase is not Phase.explain],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    previous = settings.get_current_profile_name()
    settings.load_profile("pytest-tutorial")

    def restore() -> None:
        with contextlib.suppress(OSError):
            keep_unicode_tables(Path(home), user_cache_dir())
        settings.load_profile(previous)
        set_hypothesis_home_dir(None)

    return restore
