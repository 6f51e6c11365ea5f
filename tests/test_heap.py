"""A tutorial run freezes its start-up heap for the checks and unfreezes it at the very end."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

RUN = textwrap.dedent(
    """
    import gc, json, sys
    import pytest
    from _pytest import unraisableexception

    seen = {}
    pytest_collects = getattr(unraisableexception, "gc_collect_harder", None)
    if pytest_collects is not None:
        def recorded(*args, **kwargs):
            seen.setdefault("at_final_collections", gc.get_freeze_count())
            return pytest_collects(*args, **kwargs)
        unraisableexception.gc_collect_harder = recorded

    class Record:
        def pytest_runtest_call(self, item):
            seen.setdefault("during_checks", gc.get_freeze_count())

    pytest.main(sys.argv[1:], plugins=[Record()])
    seen["after"] = gc.get_freeze_count()
    print(json.dumps(seen))
    """
)


def test_the_heap_is_frozen_during_the_checks_and_unfrozen_after_pytest_collects(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN,
            "--tutorial=caching",
            "--tutorial-solution=reference",
            "-q",
            "-p",
            "no:randomly",
            "-k",
            "test_defaults_match_the_documented_settings",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["during_checks"] > 10_000  # the imports, skipped by every collection
    assert seen.get("at_final_collections", 1) > 0  # still frozen for pytest's last ones
    assert seen["after"] == 0
