"""The pytest11 entry point ``tutorial``: options, markers, and the session when active.

Kept thin on purpose: pytest imports it in every run of the learner's environment, so
nothing heavy is imported here. Only ``--tutorial=NAME`` (or the ``tutorial`` ini key)
builds a :class:`~pytest_tutorial.session.TutorialSession` and registers the fixtures.
"""

from __future__ import annotations

import pytest

from pytest_tutorial import options
from pytest_tutorial.rewriting import REWRITTEN, load_libraries_plainly

# Marked before anything imports them: a tutorial's conftest.py imports the fixture modules
# before they are registered as plugins, and pytest warns (an error under a strict
# ``filterwarnings``) about a plugin module imported before it could be rewritten.
pytest.register_assert_rewrite(*REWRITTEN)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``--tutorial*`` options and ini keys."""
    options.add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker; start a tutorial session when ``--tutorial`` is given."""
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
    from pytest_tutorial.stack_room import in_room

    # The activation imports moto, boto3 and hypothesis deep in pytest's start-up, where
    # the imports crossed a frame-stack chunk's end some 7,000 times (:mod:`.stack_room`).
    in_room(lambda: activate(config, name))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Start a tutorial run (or a listing) from the tutorial's folder, not the current one.

    pytest loads the ``conftest.py`` files of its starting folder and of its ``test*``
    subfolders before any plugin is configured: in a course repository that would load the
    course's own test configuration (and need its test tools) for a learner's run. From here
    on a tutorial run loads its libraries without assertion rewriting (:mod:`.rewriting`),
    and the runs of the learner's tests get their warm server started
    (:mod:`.learner_server_early`).
    """
    namespace = early_config.known_args_namespace
    listing = bool(getattr(namespace, "tutorial_list", False))
    name = getattr(namespace, "tutorial", None) or early_config.getini(options.INI_TUTORIAL)
    if not listing and not name:
        return
    if name and not listing:
        early_config.add_cleanup(load_libraries_plainly())
        from pytest_tutorial.heap import freeze

        freeze(early_config)  # pytest and the plugins stay loaded: full collections skip them
    from pytest_tutorial.discovery import tutorial_folder

    namespace.file_or_dir = [
        str(tutorial_folder(str(name or ""), options.tutorial_roots(early_config)))
    ]
    if name and not listing:
        from pytest_tutorial.learner_server_early import ask_for_the_runs_server

        ask_for_the_runs_server(early_config, str(name))


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """``--tutorial-list``: list the tutorials found and exit."""
    if not config.getoption("tutorial_list"):
        return None
    from pytest_tutorial.listing import list_tutorials

    return list_tutorials(config)
