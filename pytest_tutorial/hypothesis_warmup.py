"""What hypothesis computes once per storage folder, kept from costing every graded run.

Two costs come with a new hypothesis storage folder, and a graded submission always has
one: hypothesis mines the source of every module it takes for the user's own for example
constants (:func:`keep_harness_constants_out_of_hypothesis`), and it builds its Unicode
tables, the characters of each category and of the UTF-8 codec that ``st.text()`` draws
from by default, by testing every code point: about a second. The tables depend only on
Python's Unicode database, so the grading parent builds them once per batch
(:func:`unicode_tables`) and feeds them to every child (:func:`install_unicode_tables`).

A run of the learner's own tests also starts with a new storage folder (nothing one run
writes may reach another), so tests that draw text built the tables in every one of the
ten runs of a first run, and of a graded submission: the runs now start with the tables
of the session's storage folder (:func:`tables_for_test_runs`).

Every new tutorial folder (a learner's first run, each test of this project) and every
``grade`` batch would still build them once. A per-user cache keeps one whole set for
each Unicode database and hypothesis version (:func:`shared_unicode_tables`): a session
starts with its tables when its own storage folder has none (:func:`reuse_unicode_tables`)
and leaves there the ones hypothesis built in it (:func:`keep_unicode_tables`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

UNICODE_DATA = "unicode_data"
"""Hypothesis' folder of Unicode tables in its storage folder."""
TABLES_SUFFIX = ".json.gz"
COMPLETE_PREFIX = "complete-"
"""Marks tables this module wrote, whole (the name holds the versions they are for)."""
SHARED_TABLES = "hypothesis-unicode-tables"
"""The per-user cache's folder of tables, laid out as a storage folder."""


def keep_harness_constants_out_of_hypothesis() -> None:
    """Stop hypothesis from mining the harness's own modules for example constants.

    Hypothesis draws constants from the source of every module it takes for the user's own
    code (outside site-packages) and caches them in its storage folder. From a source
    checkout or an editable install that includes this package and the check modules:
    about a hundred files to parse, over a second on every run with a new storage folder
    (each graded submission), for constants that are not the learner's. Called once the
    check modules are imported; the learner's modules, imported later, are still mined.
    Does nothing if hypothesis' internals moved.
    """
    try:
        from hypothesis.internal.conjecture import providers

        seen: set[int] = providers._seen_modules
    except (ImportError, AttributeError):
        return
    prefix = __name__.partition(".")[0]
    for name, module in list(sys.modules.items()):
        if name == prefix or name.startswith(prefix + "."):
            seen.add(id(module))


def mine_constants_before_forks() -> None:
    """Have hypothesis look at the modules a warm server imported once, not in every child.

    The first hypothesis test of a process makes hypothesis look at every module it has not
    seen: a path lookup for each of several hundred (the standard library's included), and
    a parse of each it takes for the user's (here the server's ``__main__``, and from a
    checkout the harness's modules): 24 to 53 ms of CPU measured in each forked child. Done
    in the server (the harness's own modules left out, as in the checks' process), a child
    only looks at what it imported itself, the learner's code or the checks: 2 to 4 ms.

    Hypothesis would also fix its storage folder for the process (every child sets its
    own), so that is pointed at a folder removed at once and then unset again, and the
    scan counts as part of hypothesis' initialization (it then records no side effect).
    Does nothing if hypothesis is not imported or its internals moved.
    """
    if "hypothesis" not in sys.modules:
        return
    keep_harness_constants_out_of_hypothesis()
    try:
        import _hypothesis_globals  # type: ignore[import-untyped]
        from hypothesis import configuration
        from hypothesis.errors import HypothesisSideeffectWarning
        from hypothesis.internal.conjecture.providers import _get_local_constants
    except ImportError:
        return
    home_before = vars(configuration).get("__hypothesis_home_directory")
    with tempfile.TemporaryDirectory() as storage, warnings.catch_warnings():
        warnings.simplefilter("ignore", HypothesisSideeffectWarning)
        configuration.set_hypothesis_home_dir(storage)
        _hypothesis_globals.in_initialization += 1
        try:
            _get_local_constants()
        except Exception:  # a child then does the work, as without this
            pass
        finally:
            _hypothesis_globals.in_initialization -= 1
            configuration.set_hypothesis_home_dir(home_before)


def import_for_tables() -> None:
    """Import what :func:`unicode_tables` needs, on the calling thread.

    For a caller that builds the tables on another thread: Python 3.11 can fail
    ("AST constructor recursion depth mismatch") when two threads compile source at once,
    and importing a module without its bytecode compiles it.
    """
    import hypothesis.configuration
    import hypothesis.internal.charmap  # noqa: F401


def unicode_tables() -> dict[str, bytes]:
    """Hypothesis' Unicode tables, built in a storage folder of their own: path -> bytes.

    The paths are relative to a storage folder. Empty if hypothesis' internals moved, or
    if the set is not whole (:func:`_whole`). Hypothesis keeps the category table in memory
    once it has it and then writes no file: it is dropped first, so it is built here too.
    """
    from hypothesis.configuration import set_hypothesis_home_dir, storage_directory

    try:
        from hypothesis.internal import charmap
    except ImportError:
        return {}
    previous = storage_directory().path
    with tempfile.TemporaryDirectory(prefix="tutorial-hypothesis-") as home:
        set_hypothesis_home_dir(home)
        try:
            charmap._charmap = None  # past the in-memory table
            charmap.charmap()
            charmap.intervals_from_codec.__wrapped__("utf-8")  # past the in-memory cache
        except Exception:  # hypothesis' internals moved: each child builds its own
            return {}
        finally:
            set_hypothesis_home_dir(str(previous))
        tables = _stored(Path(home))
    return tables if _whole(tables) else {}


def tables_for_test_runs(home: Path, *, build: bool, cache: Path) -> dict[str, bytes]:
    """The Unicode tables to start each run of the learner's tests with: path -> bytes.

    Read from the storage folder ``home``, where this session's checks find them too.
    When ``home`` holds none written whole by :func:`write_unicode_tables` and ``build``
    is set (the learner's tests use hypothesis), they come from the per-user ``cache``
    (:func:`shared_unicode_tables`) and are written there for this session's checks and
    later sessions. Call it on the main thread, before the checks run: building sets
    hypothesis' storage folder for a moment.
    """
    if build and not _complete_marker(home).is_file():
        tables = shared_unicode_tables(cache)
        if tables:
            write_unicode_tables(tables, home)
            return tables
    return _stored(home)


def shared_unicode_tables(cache: Path) -> dict[str, bytes]:
    """Whole Unicode tables from the per-user ``cache``, built and kept there if it has none.

    Empty if hypothesis' internals moved. Building takes about a second and sets
    hypothesis' storage folder for that time: call it before anything else of the process
    uses hypothesis, on the main thread or after :func:`import_for_tables`.
    """
    shared = cache / SHARED_TABLES
    if _complete_marker(shared).is_file():
        with contextlib.suppress(OSError):  # unreadable: built anew
            return _stored(shared)
    import_for_tables()
    tables = unicode_tables()
    with contextlib.suppress(OSError):  # a read-only cache: built again next time
        write_unicode_tables(tables, shared)
    return tables


def reuse_unicode_tables(home: Path, cache: Path) -> None:
    """Start the storage folder ``home`` with the cache's whole tables, if it has none whole."""
    if _complete_marker(home).is_file():
        return
    shared = cache / SHARED_TABLES
    if _complete_marker(shared).is_file():
        write_unicode_tables(_stored(shared), home)


def keep_unicode_tables(home: Path, cache: Path) -> None:
    """Keep the tables hypothesis built in ``home`` in the per-user ``cache``, if it has none.

    Only a whole set: the table of the Unicode categories and that of a codec, both of
    which ``st.text()`` builds. Tables that came whole (marked) are already in a cache.
    """
    shared = cache / SHARED_TABLES
    if _complete_marker(home).is_file() or _complete_marker(shared).is_file():
        return
    tables = _stored(home)
    if _whole(tables):
        write_unicode_tables(tables, shared)


def _whole(tables: Mapping[str, bytes]) -> bool:
    """Whether ``tables`` hold what ``st.text()`` needs: the categories' and a codec's."""
    names = [name.rpartition("/")[2] for name in tables]
    return any(name.startswith("charmap") for name in names) and any(
        name.startswith("codec-") for name in names
    )


def _stored(home: Path) -> dict[str, bytes]:
    """The tables in the storage folder ``home``: path relative to it -> bytes."""
    folder = home / UNICODE_DATA
    if not folder.is_dir():
        return {}
    return {
        str(path.relative_to(home)): path.read_bytes()
        for path in sorted(folder.rglob(f"*{TABLES_SUFFIX}"))
    }


def _complete_marker(home: Path) -> Path:
    import unicodedata

    import hypothesis

    versions = f"{unicodedata.unidata_version}-{hypothesis.__version__}"
    return home / UNICODE_DATA / f"{COMPLETE_PREFIX}{versions}"


def install_unicode_tables(tables: Path, home: Path) -> None:
    """Put the tables fed in the folder ``tables`` into the storage folder ``home``."""
    write_unicode_tables(_stored(tables), home)


def write_unicode_tables(tables: Mapping[str, bytes], home: Path) -> None:
    """Write :func:`unicode_tables` into the storage folder ``home``, marked whole if they are.

    Each file is replaced whole (written beside, then renamed), so a process reading the
    folder meanwhile, as another session may the per-user cache, never sees half a table.
    """
    for name, content in tables.items():
        target = home / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as beside:
            beside.write(content)
        os.replace(beside.name, target)
    if _whole(tables):
        _complete_marker(home).touch()
