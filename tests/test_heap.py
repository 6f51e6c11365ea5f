"""A tutorial run freezes its start-up heap for the checks and unfreezes it at the very end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

RUN = textwrap.dedent(
    """
    import gc, json, os, sys
    import pytest
    from _pytest import unraisableexception

    if "--freeze-first" in sys.argv:
        sys.argv.remove("--freeze-first")
        gc.freeze()
    seen = {"before": gc.get_freeze_count()}
    pytest_collects = getattr(unraisableexception, "gc_collect_harder", None)
    if pytest_collects is not None:
        def recorded(*args, **kwargs):
            seen.setdefault("at_final_collections", gc.get_freeze_count())
            return pytest_collects(*args, **kwargs)
        unraisableexception.gc_collect_harder = recorded

    class Record:
        def pytest_runtest_call(self, item):
            seen.setdefault("during_checks", gc.get_freeze_count())

    twice = "--twice" in sys.argv
    if twice:
        sys.argv.remove("--twice")
    outer_test = os.environ.get("PYTEST_CURRENT_TEST")
    pytest.main(sys.argv[1:], plugins=[Record()])
    seen["after"] = gc.get_freeze_count()
    if twice:  # a second run in the same process: it decides afresh, or as the first saw
        first, seen = seen, {"before": gc.get_freeze_count()}
        if outer_test is not None:  # the run's own tests unset it, as the outer test's was
            os.environ["PYTEST_CURRENT_TEST"] = outer_test
        pytest.main(sys.argv[1:], plugins=[Record()])
        seen["after"] = gc.get_freeze_count()
        seen = {**first, **{f"second_{key}": value for key, value in seen.items()}}
    print(json.dumps(seen))
    """
)


def _run(
    folder: Path, inside_a_test: bool, *, freeze_first: bool = False, twice: bool = False
) -> dict[str, int]:
    environment = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    if inside_a_test:
        environment["PYTEST_CURRENT_TEST"] = "tests/test_outer.py::test_it (call)"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN,
            *(["--freeze-first"] if freeze_first else []),
            *(["--twice"] if twice else []),
            "--tutorial=caching",
            "--tutorial-solution=reference",
            "-q",
            "-p",
            "no:randomly",
            "-k",
            "test_defaults_match_the_documented_settings",
        ],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_heap_is_frozen_during_the_checks_and_until_the_process_ends(
    tmp_path: Path,
) -> None:
    seen = _run(tmp_path, inside_a_test=False)
    assert seen["during_checks"] > 10_000  # the imports, skipped by every collection
    assert seen.get("at_final_collections", 1) > 0
    assert seen["after"] > 0  # and by the one at interpreter exit


def test_a_run_inside_another_runs_test_unfreezes_after_pytest_collects(tmp_path: Path) -> None:
    seen = _run(tmp_path, inside_a_test=True, twice=True)
    for run in ("", "second_"):  # the second run does not take the first one's freeze as
        assert seen[f"{run}during_checks"] > 10_000  # the outer process's
        assert seen[f"{run}after"] == 0
    assert seen.get("at_final_collections", 1) > 0  # still frozen for pytest's last ones


def test_a_run_inside_a_test_of_a_frozen_process_leaves_its_heap_as_it_was(
    tmp_path: Path,
) -> None:
    seen = _run(tmp_path, inside_a_test=True, freeze_first=True, twice=True)
    assert seen["before"] > 10_000  # pytest and the package, frozen by the outer process
    # The run froze nothing of its own (that would add its plugins' and checks' thousands;
    # a frozen object that is freed leaves the count) and thawed nothing of the outer one.
    for run in ("", "second_"):  # the second run as the first: it knows the outer heap frozen
        assert 0.9 * seen["before"] < seen[f"{run}during_checks"] <= seen["before"]
        assert 0.9 * seen["before"] < seen[f"{run}after"] <= seen["before"]
