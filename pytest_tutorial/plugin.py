"""The pytest11 entry point ``tutorial``: options, markers, and the session when active.

Kept thin on purpose: pytest imports it in every run of the learner's environment, so
nothing heavy is imported here. Only ``--tutorial=NAME`` (or the ``tutorial`` ini key)
builds a :class:`~pytest_tutorial.session.TutorialSession` and registers the fixtures.
"""

from __future__ import annotations

import pytest

from pytest_tutorial import options

pytest.register_assert_rewrite("pytest_tutorial.tutorials")


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "checklist(item, *, points=1, hint='', step=None, timeout=None): tie a tutorial check "
        "to the checklist item with id ITEM; POINTS it is worth, a HINT shown when it fails, "
        "the tutorial STEP to reread, and its own time limit in seconds",
    )
    name = options.tutorial_name(config)
    if name is None or config.getoption("tutorial_list"):
        return
    from pytest_tutorial.activation import activate  # deferred: only tutorial runs pay for it

    activate(config, name)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not config.getoption("tutorial_list"):
        return None
    from pytest_tutorial.listing import list_tutorials

    return list_tutorials(config)
