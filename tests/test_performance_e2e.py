"""Performance verdicts end to end: relative target, fallback, pytest-benchmark, xdist, litter."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial import bundled
from tests.conftest import RunTutorial, checks_in

pytestmark = pytest.mark.slow

ONLY_PERFORMANCE = ("-k", "p95")


def _slowed(copy_solution: Callable[..., Path]) -> Path:
    """The reference with a 0.12 ms sleep in the cached-read path: above the 0.1 ms floor,
    far over twice the reference, below the 1 ms ceiling."""
    folder = copy_solution("reference_solutions", "caching", to="slowed")
    module = folder / "cache_service.py"
    text = module.read_text(encoding="utf-8")
    anchor = "    def _local_get(self, key: str) -> JSONValue | _Miss:\n"
    assert text.count(anchor) == 1
    module.write_text(text.replace(anchor, anchor + "        time.sleep(0.00012)\n"))
    return folder


def test_a_slowed_solution_fails_the_relative_target(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("reference_solutions", "caching")
    run = run_tutorial("caching", *ONLY_PERFORMANCE, solution=_slowed(copy_solution))
    assert run.status("performance") == "failed"
    entry = run.report["performance"][0]
    # About 0.2 ms a read: the ratio decides, unless a loaded machine stretches the sleeps
    # past the 1 ms ceiling (test_performance_unit pins each rule on fixed samples).
    assert entry["decided_by"] in ("relative", "ceiling")
    assert entry["ratio"] > 2.0
    assert entry["reference_p95_ms"] < entry["p95_ms"]
    assert len(entry["rounds"]) == 5
    assert entry["passed"] is False
    message = run.items["performance"]["checks"][0]["message"]
    assert ("the reference's" if entry["decided_by"] == "relative" else "ceiling") in message
    run.result.stdout.fnmatch_lines(
        [
            "Performance",
            "*FAIL*cached reads: p95*reference*ratio*",
            "*yours*|*|*",
            "*reference*|*|*",
        ]
    )


def test_the_reference_passes_against_itself(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("reference_solutions", "caching")
    run = run_tutorial("caching", *ONLY_PERFORMANCE, solution="reference")
    entry = run.report["performance"][0]
    assert run.status("performance") == "passed"
    assert entry["decided_by"] in ("floor", "relative")  # tens of microseconds: the floor
    _assert_reference_measured_when_it_could_decide(entry)


def _assert_reference_measured_when_it_could_decide(entry: Any) -> None:
    """The reference is measured in every round once a round of the learner's is over the
    floor, and in none while every round is at or below it (the floor then decides)."""
    over = [row for row in entry["rounds"] if row["learner_p95_ms"] > entry["p95_floor_ms"]]
    measured = [row["reference_p95_ms"] is not None for row in entry["rounds"]]
    if over:
        assert all(measured), entry["rounds"]
        assert entry["ratio"] is not None
    else:
        assert not any(measured), entry["rounds"]
        assert entry["decided_by"] == "floor"
        assert entry["reference_p95_ms"] is None


def test_without_a_reference_the_ceiling_decides_alone(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # No reference_solutions/ under the rootdir, and none shipped with the tutorial: the
    # checkout's own folders (what an installed package's copy stands for) are out of reach.
    monkeypatch.setattr(bundled, "CHECKOUT_ROOT", tmp_path / "not-a-checkout")
    run = run_tutorial("caching", *ONLY_PERFORMANCE, solution=_slowed(copy_solution))
    entry = run.report["performance"][0]
    # Over twice the reference, so a relative target would fail it. Without one the ceiling
    # decides: it passes, unless a loaded machine stretches the sleeps past the ceiling.
    assert entry["decided_by"] in ("absolute", "ceiling")
    assert entry["reference_p95_ms"] is None
    assert entry["ratio"] is None
    assert entry["target"] == 1.0
    assert "no reference solution at" in entry["note"]
    passed = entry["decided_by"] == "absolute"
    assert run.status("performance") == ("passed" if passed else "failed")
    shown = "*target <= 1 ms (absolute)*" if passed else "*over the 1 ms ceiling*"
    run.result.stdout.fnmatch_lines([shown, "*note: no reference solution*"])


def test_verdicts_do_not_depend_on_pytest_benchmark(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pytest-benchmark turns itself off in an xdist worker: the inner run is a learner's.
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    copy_solution("reference_solutions", "caching")
    slowed = _slowed(copy_solution)
    disabled = run_tutorial("caching", *ONLY_PERFORMANCE, "--benchmark-disable", solution=slowed)
    assert disabled.status("performance") == "failed"
    enabled = run_tutorial(
        "caching", *ONLY_PERFORMANCE, "--benchmark-json=bench.json", solution="reference"
    )
    assert enabled.status("performance") == "passed"
    benchmarks = json.loads((pytester.path / "bench.json").read_text())["benchmarks"]
    assert len(benchmarks) == 1
    extra = benchmarks[0]["extra_info"]
    assert extra["decided_by"] == enabled.report["performance"][0]["decided_by"]
    assert extra["ratio"] == enabled.report["performance"][0]["ratio"]


def test_under_xdist_the_verdict_and_report_are_complete(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    copy_solution("reference_solutions", "caching")
    run = run_tutorial("caching", "-n", "2", solution="reference")
    assert run.report["verdict"] == "validated", run.result.stdout.str()
    assert set(run.automated_statuses().values()) == {"passed"}
    entry = run.report["performance"][0]
    assert len(entry["rounds"]) == 5
    _assert_reference_measured_when_it_could_decide(entry)
    checks = [check for item in run.report["checklist"] for check in item["checks"]]
    assert len(checks) == checks_in("caching")


def test_a_run_leaves_no_litter(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], pytester: pytest.Pytester
) -> None:
    folder = copy_solution("exercises", "caching")
    copy_solution("reference_solutions", "caching")
    before = sorted(path.relative_to(folder) for path in folder.rglob("*"))
    run_tutorial("caching")
    run_tutorial("caching", solution="reference")
    after = sorted(path.relative_to(folder) for path in folder.rglob("*"))
    assert after == before
    for name in (".benchmarks", ".hypothesis", "__pycache__"):
        assert not (pytester.path / name).exists(), name
    assert (pytester.path / ".pytest-tutorial" / ".gitignore").is_file()
