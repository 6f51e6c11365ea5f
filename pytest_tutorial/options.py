"""Command-line options, their ini twins, and the settings they resolve to.

Each option falls back to its ini key when not given on the command line (the
pytest-asyncio convention). Option names are constants so the tests reuse them.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_tutorial.errors import usage_error

TUTORIAL = "--tutorial"
SOLUTION = "--tutorial-solution"
REPORT = "--tutorial-report"
LIST = "--tutorial-list"
FRESH_RUNS = "--tutorial-fresh-runs"
TIMEOUT = "--tutorial-timeout"
HINT_LEVEL = "--tutorial-hint-level"
REDIS = "--tutorial-redis"
ISOLATION = "--tutorial-isolation"

INI_TUTORIAL = "tutorial"
INI_SOLUTION = "tutorial_solution"
INI_REPORT = "tutorial_report"
INI_TIMEOUT = "tutorial_timeout"
INI_HINT_LEVEL = "tutorial_hint_level"
INI_REDIS = "tutorial_redis"
INI_ISOLATION = "tutorial_isolation"
INI_PATHS = "tutorial_paths"

REFERENCE = "reference"
"""The --tutorial-solution value that selects ``reference_solutions/NAME``."""
LEARNER_ROOT = "exercises"
REFERENCE_ROOT = "reference_solutions"
STATE_DIR = ".pytest-tutorial"
HYPOTHESIS_HOME = "hypothesis"
"""Hypothesis' storage folder, in the state folder."""
"""Folder under the rootdir for reports and hypothesis data, never inside the learner's code."""
DEFAULT_TIMEOUT_S = 60.0


class RedisMode(enum.Enum):
    """Which Redis the checks talk to."""

    FAKE = "fake"
    SERVER = "server"


class IsolationMode(enum.Enum):
    """Where the learner's code runs during a tutorial run."""

    PROCESS = "process"
    """In the pytest process, beside the checks: fast, but no protection from the code."""
    WORKER = "worker"
    """In a worker process of its own: checks and fakes out of the learner code's reach."""


class SolutionKind(enum.Enum):
    """Whose implementation a run checks; recorded in the report."""

    LEARNER = "learner"
    REFERENCE = "reference"
    PATH = "path"


def add_options(parser: pytest.Parser) -> None:
    """Register the options and their ini twins."""
    group = parser.getgroup("tutorial", "hands-on tutorial checks (pytest-tutorial)")
    group.addoption(
        TUTORIAL,
        dest="tutorial",
        metavar="NAME",
        default=None,
        help="run the checks of tutorial NAME instead of the tests of the directory",
    )
    group.addoption(
        SOLUTION,
        dest="tutorial_solution",
        metavar="PATH|reference",
        default=None,
        help="folder holding the implementation under test "
        "(default: exercises/NAME under the rootdir; 'reference': "
        "reference_solutions/NAME, else the reference the tutorial ships)",
    )
    group.addoption(
        REPORT,
        dest="tutorial_report",
        metavar="PATH",
        default=None,
        help=f"where to write the JSON report (default: {STATE_DIR}/reports/NAME.json "
        "under the rootdir)",
    )
    group.addoption(
        TIMEOUT,
        dest="tutorial_timeout",
        metavar="SECONDS",
        default=None,
        help="time limit per check, overriding the tutorial's timeout_s "
        f"(default {DEFAULT_TIMEOUT_S:g}; 0 disables)",
    )
    group.addoption(
        HINT_LEVEL,
        dest="tutorial_hint_level",
        metavar="auto|N|all",
        default=None,
        help="how much of each failing check's hint to show: auto (more after each failing "
        "run, the default), the first N levels, or all",
    )
    group.addoption(
        REDIS,
        dest="tutorial_redis",
        metavar="fake|server",
        default=None,
        help="the Redis checks talk to: fakeredis in process (default), or a private "
        "redis-server started on loopback",
    )
    group.addoption(
        ISOLATION,
        dest="tutorial_isolation",
        metavar="process|worker",
        default=None,
        help="where the learner's code runs: in the pytest process (default), or in a "
        "worker process of its own, so it cannot reach the checks",
    )
    group.addoption(
        FRESH_RUNS,
        dest="tutorial_fresh_runs",
        action="store_true",
        default=False,
        help="run your tests against the tutorial's bugs again, even when an earlier run of "
        "the same tests against the same bug is on record",
    )
    group.addoption(
        LIST,
        dest="tutorial_list",
        action="store_true",
        default=False,
        help="list the tutorials found and exit",
    )
    parser.addini(INI_TUTORIAL, "default for --tutorial", default=None)
    parser.addini(
        INI_SOLUTION, "default for --tutorial-solution (relative to the ini file)", default=None
    )
    parser.addini(
        INI_REPORT, "default for --tutorial-report (relative to the ini file)", default=None
    )
    parser.addini(INI_TIMEOUT, "default for --tutorial-timeout", default=None)
    parser.addini(INI_HINT_LEVEL, "default for --tutorial-hint-level", default=None)
    parser.addini(INI_REDIS, "default for --tutorial-redis", default=None)
    parser.addini(INI_ISOLATION, "default for --tutorial-isolation", default=None)
    parser.addini(
        INI_PATHS,
        "extra folders holding tutorials (searched before the bundled ones)",
        type="paths",
        default=[],
    )


@dataclass(frozen=True)
class Settings:
    """What a tutorial run was asked to do, resolved to absolute paths."""

    tutorial: str
    solution: Path
    solution_kind: SolutionKind
    report: Path
    timeout_s: float | None
    """None: use the tutorial's timeout_s, else the default."""
    rootdir: Path
    state_dir: Path
    """Where reports, hint levels and hypothesis data live: never inside the learner's code."""
    hint_level: int | None = None
    """None: a level per failing run in a row; else the number of levels to show."""
    redis: RedisMode = RedisMode.FAKE
    isolation: IsolationMode = IsolationMode.PROCESS
    fresh_runs: bool = False
    """Never reuse earlier runs of the learner's tests against the bugs."""


def tutorial_roots(config: pytest.Config) -> tuple[Path, ...]:
    """Folders to find tutorials in: the ini's tutorial_paths first, then the bundled ones."""
    from pytest_tutorial.discovery import BUNDLED_ROOT

    extra = tuple(Path(path) for path in config.getini(INI_PATHS))
    return (*extra, BUNDLED_ROOT)


def tutorial_name(config: pytest.Config) -> str | None:
    """The requested tutorial, from the command line or the ini file; None when inactive."""
    value = config.getoption("tutorial") or config.getini(INI_TUTORIAL)
    return str(value) if value else None


def read_settings(config: pytest.Config, name: str) -> Settings:
    """Resolve every tutorial option for ``name``; raise a usage error on a bad value."""
    rootdir = config.rootpath
    ini_dir = config.inipath.parent if config.inipath else rootdir
    invocation = config.invocation_params.dir

    solution, kind = solution_folder(config, name)
    if not solution.is_dir():
        raise _missing_solution(config, name, solution, kind)

    state_dir = default_state_dir(rootdir, solution)
    report_value, base = _with_base(config, "tutorial_report", INI_REPORT, invocation, ini_dir)
    if report_value is None:
        report = state_dir / "reports" / f"{name}.json"
    else:
        report = (base / os.path.expanduser(report_value)).resolve()
        if report.is_dir():
            raise usage_error(
                f"{REPORT}: {report} is a folder", fix="give the path of a .json file to write"
            )

    return Settings(
        tutorial=name,
        solution=solution,
        solution_kind=kind,
        report=report,
        timeout_s=_timeout(config),
        rootdir=rootdir,
        state_dir=state_dir,
        hint_level=_hint_level(config),
        redis=_redis_mode(config),
        isolation=_isolation_mode(config),
        fresh_runs=bool(config.getoption("tutorial_fresh_runs")),
    )


def solution_folder(config: pytest.Config, name: str) -> tuple[Path, SolutionKind]:
    """The folder a run of tutorial ``name`` checks, whether it exists or not, and whose it is.

    ``--tutorial-solution`` (relative to the current folder) or the ini's
    ``tutorial_solution`` (relative to the ini file); else ``exercises/NAME`` under the
    rootdir. ``reference`` is ``reference_solutions/NAME`` under the rootdir, or else the
    reference the tutorial ships (:mod:`pytest_tutorial.bundled`).
    """
    rootdir = config.rootpath
    ini_dir = config.inipath.parent if config.inipath else rootdir
    value, base = _with_base(
        config, "tutorial_solution", INI_SOLUTION, config.invocation_params.dir, ini_dir
    )
    if value is None:
        return rootdir / LEARNER_ROOT / name, SolutionKind.LEARNER
    if value == REFERENCE:
        return _reference_folder(config, rootdir, name), SolutionKind.REFERENCE
    return (base / os.path.expanduser(value)).resolve(), SolutionKind.PATH


def _reference_folder(config: pytest.Config, rootdir: Path, name: str) -> Path:
    """``reference_solutions/NAME`` under the rootdir, else the one the tutorial ships."""
    from pytest_tutorial.bundled import reference_named

    in_course = rootdir / REFERENCE_ROOT / name
    if in_course.is_dir():
        return in_course
    return reference_named(name, tutorial_roots(config)) or in_course


def _missing_solution(
    config: pytest.Config, name: str, solution: Path, kind: SolutionKind
) -> pytest.UsageError:
    """Why the solution folder cannot be used, and how to get one (``pytest-tutorial start``)."""
    from pytest_tutorial.start import command_line

    module = _solution_file(config, name)
    start = f"lay out the starter code with `{command_line(name)}`"
    cli_value, ini_value = config.getoption("tutorial_solution"), config.getini(INI_SOLUTION)
    if cli_value:
        given = f"{SOLUTION}={cli_value}"
    elif ini_value:
        given = f"{INI_SOLUTION} = {ini_value} in {config.inipath}"
    else:
        given = f"{TUTORIAL}={name}"
    if solution.is_file():
        folder = f": {SOLUTION}={solution.parent}" if solution.name == module else ""
        return usage_error(
            f"{given}: {solution} is a file, not a folder",
            fix=f"give the folder that holds {module}{folder}",
        )
    if kind is SolutionKind.REFERENCE:
        return usage_error(
            f"{given}: there is no reference solution of {name}: {solution} does not exist, "
            "and the installed tutorial ships none",
            fix=f"run from a course folder that has {REFERENCE_ROOT}/{name}, or pass "
            f"{SOLUTION}=PATH to a solution folder ({start})",
        )
    if kind is SolutionKind.LEARNER:
        return usage_error(
            f"{given}: there is no solution folder to check: {solution} does not exist",
            fix=f"{start}, then run `pytest --tutorial={name}` in the folder it makes; "
            f"or pass {SOLUTION}=PATH, the folder holding {module}",
        )
    return usage_error(
        f"{given}: the solution folder {solution} does not exist",
        fix=f"give the folder holding {module}; or {start} and run pytest there",
    )


def _solution_file(config: pytest.Config, name: str) -> str:
    """The learner's module file (``cache_service.py``), for messages; "your code" if unknown."""
    from pytest_tutorial.discovery import get_tutorial
    from pytest_tutorial.document import parse_tutorial

    try:
        tutorial = parse_tutorial(get_tutorial(name, tutorial_roots(config)).document, name)
    except pytest.UsageError:
        return "your code"
    if tutorial.validation is None:
        return "your code"
    return tutorial.validation.solution.module.replace(".", "/") + ".py"


def default_state_dir(rootdir: Path, solution: Path) -> Path:
    """``.pytest-tutorial`` under the rootdir, or a per-user cache when that is inside the code."""
    state = rootdir / STATE_DIR
    if state.resolve().is_relative_to(solution.resolve()):
        return user_cache_dir()
    return state


def user_cache_dir() -> Path:
    """The per-user cache folder: ``$XDG_CACHE_HOME/pytest-tutorial`` (``~/.cache`` unset)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pytest-tutorial"


def prepare_state_dir(state: Path) -> Path:
    """Create the state folder with a ``.gitignore``, so nothing in it is ever committed."""
    state.mkdir(parents=True, exist_ok=True)
    ignore = state / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# written by pytest-tutorial\n*\n", encoding="utf-8")
    return state


def _with_base(
    config: pytest.Config, dest: str, ini: str, invocation: Path, ini_dir: Path
) -> tuple[str | None, Path]:
    """A path option's value and the folder it is relative to (cwd for CLI, ini dir for ini).

    Also before pytest has parsed the options (``pytest_load_initial_conftests``, where only
    the known arguments hold them).
    """
    value = config.getoption(dest)
    if value is None:
        value = getattr(getattr(config, "known_args_namespace", None), dest, None)
    if value:
        return str(value), invocation
    ini_value = config.getini(ini)
    return (str(ini_value), ini_dir) if ini_value else (None, invocation)


def _redis_mode(config: pytest.Config) -> RedisMode:
    raw = config.getoption("tutorial_redis") or config.getini(INI_REDIS) or RedisMode.FAKE.value
    try:
        return RedisMode(str(raw))
    except ValueError:
        valid = " | ".join(mode.value for mode in RedisMode)
        raise usage_error(f"{REDIS}={raw} is not valid", fix=f"use {valid}") from None


def _isolation_mode(config: pytest.Config) -> IsolationMode:
    raw = (
        config.getoption("tutorial_isolation")
        or config.getini(INI_ISOLATION)
        or IsolationMode.PROCESS.value
    )
    try:
        return IsolationMode(str(raw))
    except ValueError:
        valid = " | ".join(mode.value for mode in IsolationMode)
        raise usage_error(f"{ISOLATION}={raw} is not valid", fix=f"use {valid}") from None


def _hint_level(config: pytest.Config) -> int | None:
    raw = config.getoption("tutorial_hint_level") or config.getini(INI_HINT_LEVEL)
    if raw in (None, "", "auto"):
        return None
    if raw == "all":
        return 10**6
    if str(raw).isdigit() and int(raw) >= 1:
        return int(raw)
    raise usage_error(f"{HINT_LEVEL}={raw} is not valid", fix="use auto, all, or a number >= 1")


def _timeout(config: pytest.Config) -> float | None:
    raw = config.getoption("tutorial_timeout") or config.getini(INI_TIMEOUT)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise usage_error(
            f"{TIMEOUT}={raw} is not valid", fix="give a number of seconds (0 disables the limit)"
        )
    return value
