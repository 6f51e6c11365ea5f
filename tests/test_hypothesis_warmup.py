"""What hypothesis computes once per storage folder: fed to graded runs, not recomputed."""

from __future__ import annotations

import io
import sys
import tarfile
import unicodedata
from pathlib import Path

import pytest

from pytest_tutorial import hypothesis_warmup
from pytest_tutorial.discovery import BUNDLED_ROOT, TutorialSource
from pytest_tutorial.grading import batch, sandbox, submission
from pytest_tutorial.grading.batch import feed_archive
from pytest_tutorial.grading.protocol import FED_HYPOTHESIS
from pytest_tutorial.grading.sandbox import SandboxKind
from pytest_tutorial.hypothesis_warmup import (
    UNICODE_DATA,
    install_unicode_tables,
    keep_harness_constants_out_of_hypothesis,
    keep_unicode_tables,
    reuse_unicode_tables,
    shared_unicode_tables,
    tables_for_test_runs,
    unicode_tables,
    write_unicode_tables,
)
from pytest_tutorial.options import HYPOTHESIS_HOME, STATE_DIR

TABLES = f"{UNICODE_DATA}/{unicodedata.unidata_version}"
CODEC_TABLE = f"{TABLES}/codec-utf-8.json.gz"
CHARMAP_TABLE = f"{TABLES}/charmap.json.gz"
"""A table's name for the feed tests (hypothesis names it by its own format version)."""


def test_the_tables_are_built_where_hypothesis_reads_them(tmp_path: Path) -> None:
    from hypothesis.internal import charmap

    charmap.charmap()  # in memory already, as after a check that drew text: built anyway
    tables = unicode_tables()
    assert f"{TABLES}/charmap.json.gz" in tables
    (codec,) = [name for name in tables if name.startswith(f"{TABLES}/codec-")]
    assert "utf-8" in codec
    fed = tmp_path / "fed"
    for name, content in tables.items():
        (fed / name).parent.mkdir(parents=True, exist_ok=True)
        (fed / name).write_bytes(content)
    home = tmp_path / "home"
    install_unicode_tables(fed, home)
    assert (home / codec).read_bytes() == tables[codec]


def test_an_unsandboxed_child_finds_the_tables_in_its_scratch_folder(tmp_path: Path) -> None:
    source, tutorial = batch.load_tutorial("caching", ())
    plan = submission.Plan(
        tutorial=tutorial,
        source=source,
        tutorial_paths=(),
        specs=(),
        limits=sandbox.Limits(),
        box=sandbox.Sandbox(SandboxKind.RLIMITS),
        workdir=tmp_path / "work",
        out=tmp_path / "out",
        feed=b"",
        hypothesis_tables={CODEC_TABLE: b"table"},
    )
    _, _, _, scratch = submission._command(plan, tmp_path / "s", tmp_path / "w", None, "m", [1, 0])
    assert (scratch / STATE_DIR / HYPOTHESIS_HOME / CODEC_TABLE).read_bytes() == b"table"


def test_runs_of_tests_without_hypothesis_take_what_is_stored_and_build_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hypothesis_warmup, "unicode_tables", _not_built)
    assert tables_for_test_runs(tmp_path / "home", build=False, cache=tmp_path / "cache") == {}
    (tmp_path / "home" / CODEC_TABLE).parent.mkdir(parents=True)
    (tmp_path / "home" / CODEC_TABLE).write_bytes(b"table")  # hypothesis' own, not whole
    assert tables_for_test_runs(tmp_path / "home", build=False, cache=tmp_path / "cache") == {
        CODEC_TABLE: b"table"
    }


def test_runs_of_tests_with_hypothesis_get_whole_tables_built_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / CODEC_TABLE).parent.mkdir(parents=True)
    (home / CODEC_TABLE).write_bytes(b"a table hypothesis left, maybe not all of them")
    built = {CODEC_TABLE: b"codec", CHARMAP_TABLE: b"charmap"}
    monkeypatch.setattr(hypothesis_warmup, "unicode_tables", lambda: built)
    assert tables_for_test_runs(home, build=True, cache=tmp_path / "cache") == built
    assert (home / CODEC_TABLE).read_bytes() == b"codec"
    monkeypatch.setattr(hypothesis_warmup, "unicode_tables", _not_built)
    assert (
        tables_for_test_runs(home, build=True, cache=tmp_path / "cache") == built
    )  # the next session reads them


def test_fed_tables_count_as_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fed = {CODEC_TABLE: b"fed", CHARMAP_TABLE: b"fed"}
    write_unicode_tables(fed, tmp_path / "home")
    monkeypatch.setattr(hypothesis_warmup, "unicode_tables", _not_built)
    stored = tables_for_test_runs(tmp_path / "home", build=True, cache=tmp_path / "cache")
    assert stored == fed


def test_tables_that_are_not_whole_are_never_marked_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_unicode_tables({CODEC_TABLE: b"codec alone"}, tmp_path / "home")
    built = {CODEC_TABLE: b"codec", CHARMAP_TABLE: b"charmap"}
    monkeypatch.setattr(hypothesis_warmup, "unicode_tables", lambda: built)
    stored = tables_for_test_runs(tmp_path / "home", build=True, cache=tmp_path / "cache")
    assert stored == built


def test_the_per_user_cache_builds_the_tables_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = {CODEC_TABLE: b"codec", CHARMAP_TABLE: b"charmap"}
    monkeypatch.setattr(hypothesis_warmup, "unicode_tables", lambda: built)
    assert shared_unicode_tables(tmp_path / "cache") == built
    monkeypatch.setattr(hypothesis_warmup, "unicode_tables", _not_built)
    assert shared_unicode_tables(tmp_path / "cache") == built  # a later batch or session
    home = tmp_path / "home"
    assert tables_for_test_runs(home, build=True, cache=tmp_path / "cache") == built
    assert (home / CHARMAP_TABLE).read_bytes() == b"charmap"


def test_a_session_starts_with_the_cached_tables_if_it_has_none_whole(tmp_path: Path) -> None:
    cache, home = tmp_path / "cache", tmp_path / "home"
    reuse_unicode_tables(home, cache)
    assert not home.exists()  # nothing cached: hypothesis builds its own
    cached = {CODEC_TABLE: b"cached", CHARMAP_TABLE: b"cached"}
    write_unicode_tables(cached, cache / hypothesis_warmup.SHARED_TABLES)
    reuse_unicode_tables(home, cache)
    assert (home / CODEC_TABLE).read_bytes() == b"cached"
    write_unicode_tables({CODEC_TABLE: b"fed", CHARMAP_TABLE: b"fed"}, tmp_path / "fed")
    reuse_unicode_tables(tmp_path / "fed", cache)
    assert (tmp_path / "fed" / CODEC_TABLE).read_bytes() == b"fed"


def test_a_session_leaves_the_tables_hypothesis_built_whole_in_the_cache(
    tmp_path: Path,
) -> None:
    cache, home = tmp_path / "cache", tmp_path / "home"
    shared = cache / hypothesis_warmup.SHARED_TABLES
    (home / CHARMAP_TABLE).parent.mkdir(parents=True)
    (home / CHARMAP_TABLE).write_bytes(b"charmap")
    keep_unicode_tables(home, cache)
    assert not shared.exists()  # the categories alone, not what st.text() needs
    (home / CODEC_TABLE).write_bytes(b"codec")
    keep_unicode_tables(home, cache)
    assert (shared / CODEC_TABLE).read_bytes() == b"codec"
    assert (shared / CHARMAP_TABLE).read_bytes() == b"charmap"
    (home / CODEC_TABLE).write_bytes(b"another")
    keep_unicode_tables(home, cache)
    assert (shared / CODEC_TABLE).read_bytes() == b"codec"  # the cache's set stays


def _not_built() -> dict[str, bytes]:
    raise AssertionError("the tables were built again")


def test_no_tables_fed_installs_nothing(tmp_path: Path) -> None:
    install_unicode_tables(tmp_path / "absent", tmp_path / "home")
    assert not (tmp_path / "home").exists()


def test_the_feed_carries_the_tables() -> None:
    source = TutorialSource("caching", BUNDLED_ROOT / "caching")
    feed = feed_archive(source, tables={CODEC_TABLE: b"table"})
    with tarfile.open(fileobj=io.BytesIO(feed)) as archive:
        member = archive.extractfile(f"{FED_HYPOTHESIS}/{CODEC_TABLE}")
        assert member is not None
        assert member.read() == b"table"


def test_the_harness_modules_are_no_source_of_constants() -> None:
    from hypothesis.internal.conjecture import providers

    keep_harness_constants_out_of_hypothesis()
    ours = [
        module
        for name, module in sys.modules.items()
        if name.partition(".")[0] == "pytest_tutorial"
    ]
    assert hypothesis_warmup in ours
    assert all(id(module) in providers._seen_modules for module in ours)
