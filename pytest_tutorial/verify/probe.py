"""A pytest plugin that ``verify`` loads in a child pytest (``-p pytest_tutorial.verify.probe``).

It asks pytest itself what verify needs, so the answers follow the same ini file, rootdir,
``tutorial_paths`` and installed packs as a learner's run:

- without ``--tutorial``: the folders searched for tutorials and the tutorials found;
- with ``--tutorial=NAME --collect-only``: every collected check and the checklist item
  its marker names, and every broken coverage rule (:mod:`pytest_tutorial.coverage`:
  the run stops at the first, verify reports them all at once).

The answer is JSON written to the file named by :data:`PROBE_ENV`.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

PROBE_ENV = "PYTEST_TUTORIAL_PROBE"
NOT_WRITTEN_NAME = "not_written_yet"
"""A check whose code calls this (the scaffold's stub) is reported as not written yet."""


_ANSWER: dict[str, Any] = {"checks": [], "problems": [], "coverage": []}
"""What the child pytest found; the probe runs once per process, so module state is enough."""


def _write(answer: dict[str, Any]) -> None:
    target = os.environ.get(PROBE_ENV)
    if target:
        Path(target).write_text(json.dumps(answer, indent=1), encoding="utf-8")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """Without ``--tutorial``: answer which tutorials are found, and stop."""
    if config.getoption("tutorial", None) or config.getoption("collectonly"):
        return None
    from pytest_tutorial.discovery import find_tutorials
    from pytest_tutorial.options import tutorial_roots

    answer: dict[str, Any] = {"rootdir": str(config.rootpath)}
    try:
        roots = tutorial_roots(config)
        answer["roots"] = [str(root) for root in roots]
        answer["tutorials"] = {
            name: str(source.directory) for name, source in find_tutorials(roots).items()
        }
    except pytest.UsageError as error:
        answer["error"] = str(error)
    _write(answer)
    return 0


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Generator[None, None, None]:
    """Describe every check, and keep every coverage problem the run stops at."""
    _ANSWER["checks"] = [_describe(item) for item in items]
    try:
        return (yield)
    except pytest.UsageError as error:
        from pytest_tutorial.session import SESSION_KEY

        session = config.stash.get(SESSION_KEY, None)
        problems = session.coverage_problems if session is not None else []
        if problems:  # the run stopped at the first; verify lists them all
            _ANSWER["coverage"] = [problem.to_plain() for problem in problems]
        else:
            _ANSWER["problems"].append(str(error))
        raise


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """Keep why a module could not be collected."""
    if report.failed:
        lines = [line for line in str(report.longrepr).splitlines() if line.strip()]
        _ANSWER["problems"].append(f"could not collect {report.nodeid}: " + "\n".join(lines[-6:]))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the answer for verify."""
    _write({"rootdir": str(session.config.rootpath), **_ANSWER})


def _describe(item: pytest.Item) -> dict[str, Any]:
    from pytest_tutorial.coverage import read_marker

    check = read_marker(item)
    return {
        "nodeid": check.nodeid,
        "name": check.name,
        "path": str(check.path),
        "line": check.line,
        "item": check.item_id if isinstance(check.item_id, str) else None,
        "not_written": _not_written(item),
        "fixtures": sorted(getattr(item, "fixturenames", ())),
    }


def _not_written(item: pytest.Item) -> bool:
    function = getattr(item, "obj", None)
    if function is None:
        return False
    try:
        code = inspect.unwrap(function).__code__
    except (AttributeError, ValueError):
        return False
    return NOT_WRITTEN_NAME in code.co_names
