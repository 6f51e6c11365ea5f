"""Rewritten test modules shared by a warm server's runs (pytest_tutorial.warm.rewritten)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from pytest_tutorial.warm.rewritten import relocated

RUNS = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from pathlib import Path
    import pytest
    from _pytest.assertion import rewrite
    from pytest_tutorial.warm.rewritten import share_rewritten_modules

    rewritten = []
    pytest_rewrites = rewrite._rewrite_test
    def counted(fn, config):
        rewritten.append(fn.name)
        return pytest_rewrites(fn, config)
    rewrite._rewrite_test = counted
    cache, *runs = sys.argv[1:]
    share_rewritten_modules(Path(cache))
    seen = []
    for folder in runs:
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            code = pytest.main([folder, "-q", "-p", "no:cacheprovider", "--rootdir", folder])
        for name in [n for n in sys.modules if n.startswith("test_")]:
            del sys.modules[name]
        seen.append({"code": int(code), "output": output.getvalue(), "rewritten": rewritten[:],
                     "entries": sorted(p.name for p in Path(cache).iterdir())})
    print(json.dumps(seen))
    """
)

TEST_MODULE = "def test_sum():\n    total = 1 + 1\n    assert total == 3\n"


def _runs(tmp_path: Path, sources: list[str], ini: str = "") -> list[dict[str, object]]:
    """Run pytest once per source, each in a folder of its own, sharing one cache."""
    folders = []
    for number, source in enumerate(sources):
        folder = tmp_path / f"run{number}"
        folder.mkdir(parents=True)
        (folder / "test_mod.py").write_text(source, encoding="utf-8")
        (folder / "pytest.ini").write_text(f"[pytest]\n{ini}", encoding="utf-8")
        folders.append(str(folder))
    done = subprocess.run(
        [sys.executable, "-B", "-c", RUNS, str(tmp_path / "cache"), *folders],
        capture_output=True,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_a_second_run_reuses_the_rewrite_and_reports_from_its_own_path(tmp_path: Path) -> None:
    first, second = _runs(tmp_path, [TEST_MODULE, TEST_MODULE])
    assert first["rewritten"].count("test_mod.py") == 1  # type: ignore[attr-defined]
    assert second["rewritten"].count("test_mod.py") == 1  # type: ignore[attr-defined]
    assert first["entries"]
    assert second["entries"] == first["entries"]
    for number, run in enumerate((first, second)):
        assert run["code"] == 1
        assert "assert 2 == 3" in str(run["output"])  # the rewritten assert's explanation
        assert f"run{number}/test_mod.py:3" in str(run["output"])


def test_the_failure_names_the_file_of_the_run_that_imported_it(tmp_path: Path) -> None:
    source = TEST_MODULE + "\n\ndef test_where():\n    assert __file__.endswith('x')\n"
    runs = _runs(tmp_path, [source, source])
    for number, run in enumerate(runs):
        assert f"run{number}/test_mod.py:7" in str(run["output"]), run["output"]


def test_another_source_or_assertion_pass_hook_gets_an_entry_of_its_own(tmp_path: Path) -> None:
    changed = TEST_MODULE.replace("3", "4")
    runs = _runs(tmp_path, [TEST_MODULE, changed])
    assert len(runs[1]["entries"]) == len(runs[0]["entries"]) + 1  # type: ignore[arg-type]
    assert "assert 2 == 4" in str(runs[1]["output"])
    hooked = _runs(tmp_path / "hook", [TEST_MODULE], ini="enable_assertion_pass_hook = true\n")
    plain = _runs(tmp_path / "plain", [TEST_MODULE])
    assert hooked[0]["entries"] != plain[0]["entries"]


def test_relocated_code_names_the_new_file_in_every_nested_function() -> None:
    code = compile("def outer():\n    def inner():\n        pass\n", "/old/place.py", "exec")
    moved = relocated(code, "/new/place.py")
    names = []
    stack = [moved]
    while stack:
        current = stack.pop()
        names.append(current.co_filename)
        stack += [c for c in current.co_consts if hasattr(c, "co_filename")]
    assert names == ["/new/place.py"] * 3
