"""The implementations a learner's own tests run against besides theirs: control and bugs.

Built from a tutorial's folder alone (``known_bad.py``, the hidden bugs' pool) and its id
and version, which draw the hidden bugs: every learner of one tutorial version gets the
same ones. A tutorial run keeps them in its state folder for the next run
(:class:`~pytest_tutorial.learner_run_cache.RunCache`); ``grade`` builds them once per
batch and feeds them to every submission's child in the same form.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pytest_tutorial.hidden_bugs import HiddenBugsError, load_pool, sample, source_of
from pytest_tutorial.known_bugs import KnownBadError, load_known_bad
from pytest_tutorial.learner_model import Implementation, Kind

if TYPE_CHECKING:
    from pytest_tutorial.learner_run_cache import RunCache
    from pytest_tutorial.model import Tutorial


def bug_implementations(
    directory: Path, tutorial: Tutorial, kept: RunCache | None = None
) -> tuple[list[Implementation], str]:
    """The control, known and hidden bugs of the tutorial in ``directory``, or why none.

    With ``kept``, modules kept there by an earlier build are reused while what builds
    them is unchanged (and a new build is kept there).
    """
    if kept is None:
        return _build(directory, tutorial)
    key = kept.bugs_key(directory, tutorial.id, tutorial.metadata.version)
    bugs = kept.get_bugs(key)
    if bugs is not None:
        return bugs, ""
    bugs, problem = _build(directory, tutorial)
    if bugs and not problem:
        kept.put_bugs(key, bugs)
    return bugs, problem


def _build(directory: Path, tutorial: Tutorial) -> tuple[list[Implementation], str]:
    try:
        known = load_known_bad(directory)
        if known is None:
            return [], ""
        pool = load_pool(directory, known)
    except (KnownBadError, HiddenBugsError) as error:
        return [], str(error)
    bugs = [Implementation(Kind.CONTROL, "control", "", known.build())]
    bugs += [
        Implementation(Kind.KNOWN, bug.name, bug.description, known.build(flags=bug.flags))
        for bug in known.bugs
    ]
    bugs += [
        Implementation(
            Kind.HIDDEN, f"hidden bug {bug.index}", bug.description, source_of(known, bug)
        )
        for bug in sample(pool, tutorial.id, tutorial.metadata.version)
    ]
    return bugs, ""
