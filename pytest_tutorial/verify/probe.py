"""A pytest plugin that ``verify`` loads in a child pytest (``-p pytest_tutorial.verify.probe``).

It asks pytest itself what verify needs, so the answers follow the same ini file, rootdir,
``tutorial_paths`` and installed packs as a learner's run:

- without ``--tutorial``: the folders searched for tutorials and the tutorials found;
- with ``--tutorial=NAME --collect-only``: every collected check and the checklist item
  its marker names, recorded before the plugin's own coverage rules can stop collection,
  so verify reports every problem at once instead of the first.

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


_ANSWER: dict[str, Any] = {"checks": [], "problems": []}
"""What the child pytest found; the probe runs once per process, so module state is enough."""


def _write(answer: dict[str, Any]) -> None:
    target = os.environ.get(PROBE_ENV)
    if target:
        Path(target).write_text(json.dumps(answer, indent=1), encoding="utf-8")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
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
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Generator[None, None, None]:
    _ANSWER["checks"] = [_describe(item) for item in items]
    try:
        return (yield)
    except pytest.UsageError as error:
        _ANSWER["problems"].append(str(error))
        raise


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        lines = [line for line in str(report.longrepr).splitlines() if line.strip()]
        _ANSWER["problems"].append(f"could not collect {report.nodeid}: " + "\n".join(lines[-6:]))


def pytest_sessionfinish(session: pytest.Session) -> None:
    _write({"rootdir": str(session.config.rootpath), **_ANSWER})


def _describe(item: pytest.Item) -> dict[str, Any]:
    marker = item.get_closest_marker("checklist")
    item_id = None
    if marker is not None:
        item_id = marker.args[0] if marker.args else marker.kwargs.get("item")
    _, line, _ = item.location
    return {
        "nodeid": item.nodeid,
        "name": item.name,
        "path": str(item.path),
        "line": (line or 0) + 1,
        "item": item_id if isinstance(item_id, str) else None,
        "marked": marker is not None,
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
