"""The modules the learner's tests run against, and the pools of hidden bugs (fast, in-process).

Every module built from a tutorial's ``known_bad.py`` must look like any other solution:
the contract's names, no bug flags, no docstring or name that says what it is, nothing of
``pytest_tutorial`` imported. The pools shipped with the tutorials must match their
``known_bad.py`` (this is the project test that fails when a pool is stale).
"""

from __future__ import annotations

import re
import shutil
import sys
import types
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from pytest_tutorial.discovery import BUNDLED_ROOT
from pytest_tutorial.hidden_bugs import (
    SAMPLE_SIZE,
    HiddenBugsError,
    candidates,
    load_pool,
    needed,
    sample,
    source_of,
    stale_reasons,
)
from pytest_tutorial.hidden_bugs_command import pool_step
from pytest_tutorial.known_bugs import KnownBad, KnownBadError, load_known_bad
from pytest_tutorial.learner_run_cache import RunCache
from pytest_tutorial.model import Tutorial
from pytest_tutorial.tutorial_bugs import bug_implementations
from pytest_tutorial.verify.results import Outcome

CONTRACTS = {
    "caching": ("cache_service", ("CacheService", "monitor")),
    "batch_processor": ("batch_processor", ("BatchProcessor", "BatchResult", "ItemResult")),
    "object_store": ("document_store", ("DocumentStore", "DocumentConflict", "DocumentNotFound")),
    "rate_limiter": ("rate_limiter", ("RateLimiter", "AsyncRateLimiter")),
}
TELLS = re.compile(r"naive|known|bug|flag|pytest_tutorial|tutorial", re.IGNORECASE)


def known(name: str) -> KnownBad:
    loaded = load_known_bad(BUNDLED_ROOT / name)
    assert loaded is not None
    return loaded


def load(source: str, name: str) -> types.ModuleType:
    """Execute a built module under the contract's name, as a run would import it."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    try:
        exec(compile(source, f"{name}.py", "exec"), module.__dict__)
    finally:
        del sys.modules[name]
    return module


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_every_build_looks_like_a_plain_solution(name: str) -> None:
    base = known(name)
    module_name, exports = CONTRACTS[name]
    builds = {"control": base.build()}
    builds |= {bug.name: base.build(flags=bug.flags) for bug in base.bugs}
    for label, source in builds.items():
        identifiers = set(re.findall(r"[A-Za-z_]\w*", source))
        assert not {word for word in identifiers if TELLS.search(word)}, label
        assert '"""' not in source, label
        assert "KNOWN_BUGS" not in source, label
        assert not any(flag in identifiers for flag in base.defaults), label
        module = load(source, module_name)
        assert all(hasattr(module, export) for export in exports), label
        assert not any(m.startswith("pytest_tutorial") for m in vars(module)), label
        assert module.__doc__ is None
    assert len(set(builds.values())) == len(builds), "every bug changes the control"


def test_a_bug_build_differs_from_the_control_only_where_its_flag_decided() -> None:
    base = known("caching")
    control = base.build().splitlines()
    drops_ttl = base.build(flags={"set_ttl": False}).splitlines()
    changed = [(a, b) for a, b in zip(control, drops_ttl, strict=True) if a != b]
    assert changed == [
        (
            "            self.redis.set(name, payload, ex=self.ttl_seconds)",
            "            self.redis.set(name, payload, ex=None)",
        )
    ]


def test_the_control_behaves_like_the_contract_and_the_bug_does_not() -> None:
    import fakeredis

    base = known("caching")
    for flags, expected_ttl in (({}, 300), ({"set_ttl": False}, -1)):
        module = load(base.build(flags=flags), "cache_service")
        redis = fakeredis.FakeRedis()
        module.CacheService(redis).set("k", 1)
        assert redis.ttl("cache:k") == expected_ttl


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ("KNOWN_BUGS = {'x': {'flags': {'nope': False}, 'description': 'd'}}", "nope"),
        ("KNOWN_BUGS = {'x': {'flags': {'check': True}, 'description': 'd'}}", "no bug"),
        ("KNOWN_BUGS = {'x': {'flags': {'check': False}}}", "'description'"),
        ("KNOWN_BUGS = dict(x=1)", "must be a literal"),
        ("KNOWN_BUGS = {}", "non-empty"),
    ],
)
def test_a_wrong_declaration_names_the_file_and_the_fix(
    tmp_path: Path, declaration: str, message: str
) -> None:
    (tmp_path / "known_bad.py").write_text(
        f"{declaration}\n\n\nclass Thing:\n    def __init__(self, *, check: bool = True) -> None:\n"
        "        self.check = check\n",
        encoding="utf-8",
    )
    with pytest.raises(KnownBadError, match=re.escape(message)) as error:
        load_known_bad(tmp_path)
    assert "known_bad.py:1" in str(error.value)


def test_an_init_left_empty_by_its_flag_still_compiles(tmp_path: Path) -> None:
    (tmp_path / "known_bad.py").write_text(
        "KNOWN_BUGS = {'loud': {'flags': {'quiet': False}, 'description': 'shouts'}}\n"
        "PUBLIC_NAMES = {'NaiveThing': 'Thing'}\n\n\n"
        "class NaiveThing:\n"
        "    def __init__(self, *, quiet: bool = True) -> None:\n"
        "        self.quiet = quiet\n\n"
        "    def say(self) -> str:\n"
        "        if self.quiet:\n"
        "            return 'hi'\n"
        "        return 'HI'\n",
        encoding="utf-8",
    )
    base = load_known_bad(tmp_path)
    assert base is not None
    assert load(base.build(), "thing").Thing().say() == "hi"
    assert load(base.build(flags={"quiet": False}), "thing").Thing().say() == "HI"
    assert "quiet" not in base.build()


def test_a_module_without_declarations_has_no_known_bugs(tmp_path: Path) -> None:
    (tmp_path / "known_bad.py").write_text("X = 1\n", encoding="utf-8")
    assert load_known_bad(tmp_path) is None
    assert load_known_bad(tmp_path / "missing") is None


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_the_shipped_pool_matches_its_known_bad_module(name: str) -> None:
    """Fails when known_bad.py (or the mutation engine) changed: rerun the hidden-bugs command."""
    base = known(name)
    pool = load_pool(BUNDLED_ROOT / name, base)
    assert not stale_reasons(base, pool)
    assert len(pool.bugs) >= 2 * SAMPLE_SIZE
    tried = {mutant.index for mutant in candidates(base)}
    assert {bug.index for bug in pool.bugs} <= tried
    step = pool_step(BUNDLED_ROOT / name)
    assert step is not None
    assert step.outcome is Outcome.PASSED, step


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_the_hidden_bugs_drawn_are_fixed_by_id_and_version(name: str) -> None:
    base = known(name)
    pool = load_pool(BUNDLED_ROOT / name, base)
    drawn = sample(pool, name, "1.0")
    assert len(drawn) == SAMPLE_SIZE
    assert drawn == sample(pool, name, "1.0")
    assert set(drawn) <= set(pool.bugs)
    assert any(sample(pool, name, version) != drawn for version in ("1.1", "2.0", "3.0"))
    for bug in drawn:
        source = source_of(base, bug)
        assert source != base.build()
        assert bug.description
        assert "known_bad.py:" in bug.description
    assert needed(SAMPLE_SIZE) == 2
    assert needed(3) == 2


def test_no_candidate_sits_on_a_flag_or_a_declaration() -> None:
    base = known("caching")
    lines = base.source.splitlines()
    for mutant in candidates(base):
        assert "store_values" not in lines[mutant.line - 1]
        assert "set_ttl" not in lines[mutant.line - 1]
        assert mutant.line not in base.declaration_lines


def test_a_stale_pool_is_refused_with_the_command_that_renews_it(tmp_path: Path) -> None:
    folder = tmp_path / "caching"
    shutil.copytree(BUNDLED_ROOT / "caching", folder, ignore=shutil.ignore_patterns("__py*"))
    module = folder / "known_bad.py"
    module.write_text(
        module.read_text(encoding="utf-8").replace("len(key) > 200", "len(key) > 250"),
        encoding="utf-8",
    )
    edited = load_known_bad(folder)
    assert edited is not None
    with pytest.raises(HiddenBugsError, match="stale") as error:
        load_pool(folder, edited)
    assert "pytest-tutorial hidden-bugs caching" in str(error.value)
    step = pool_step(folder)
    assert step is not None
    assert step.outcome is Outcome.FAILED
    assert "hidden-bugs caching" in step.findings[0].fix
    (folder / "hidden_bugs.json").unlink()
    with pytest.raises(HiddenBugsError, match="does not exist"):
        load_pool(folder, edited)


def test_a_pool_whose_mutants_moved_is_stale() -> None:
    """Same known_bad.py, other mutants at those indices (the mutation engine changed)."""
    base = known("caching")
    pool = load_pool(BUNDLED_ROOT / "caching", base)
    moved = replace(pool, bugs=(replace(pool.bugs[0], index=pool.bugs[0].index + 1),))
    assert stale_reasons(base, moved)


def test_kept_bug_modules_are_the_built_ones_until_known_bad_changes(tmp_path: Path) -> None:
    folder = tmp_path / "caching"
    shutil.copytree(BUNDLED_ROOT / "caching", folder)
    tutorial = cast(
        Tutorial,
        types.SimpleNamespace(id="caching", metadata=types.SimpleNamespace(version="1")),
    )
    kept = RunCache(tmp_path / "kept")
    built, problem = bug_implementations(folder, tutorial)
    assert built
    assert not problem
    assert bug_implementations(folder, tutorial, kept) == (built, "")  # built, then kept
    (stored,) = (tmp_path / "kept").glob("bugs-*.json")
    stored.write_text(stored.read_text().replace('"name": "control"', '"name": "kept control"'))
    reused, _ = bug_implementations(folder, tutorial, kept)
    assert [bug.name for bug in reused] == ["kept control", *[bug.name for bug in built[1:]]]
    assert [bug.source for bug in reused] == [bug.source for bug in built]
    key = kept.bugs_key(folder, "caching", "1")
    known_bad = folder / "known_bad.py"
    known_bad.write_text(known_bad.read_text() + "\n# another version\n")
    assert kept.bugs_key(folder, "caching", "1") != key
    assert kept.bugs_key(folder, "caching", "2") != kept.bugs_key(folder, "caching", "1")
