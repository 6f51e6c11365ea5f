"""Installed tutorial packs are read once, and again after an install changes ``sys.path``."""

from __future__ import annotations

import importlib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial import discovery


def _install_pack(site: Path) -> Path:
    """A pack as pip lays one out in ``site``: its package and its ``.dist-info``."""
    package = site / "cached_pack"
    package.mkdir()
    (package / "__init__.py").write_text('"""A pack."""\n', encoding="utf-8")
    info = site / "cached_pack-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cached-pack\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pytest_tutorial.tutorials]\ncached = cached_pack\n")
    importlib.invalidate_caches()
    return package


def test_packs_are_read_again_only_after_an_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    reads: list[dict[str, Any]] = []
    read = metadata.entry_points

    def counted(**selection: Any) -> Any:
        reads.append(selection)
        return read(**selection)

    monkeypatch.setattr(metadata, "entry_points", counted)
    before = discovery.pack_roots()
    assert discovery.pack_roots() == before
    assert len(reads) == 1
    package = _install_pack(tmp_path)
    after = discovery.pack_roots()
    assert len(reads) == 2
    assert package not in before
    assert package in after
