"""The adversarial corpus, graded by ``pytest-tutorial grade``: every case ends within its
limit, scores nothing it did not honestly earn, leaves no process behind, does not stop
the batch or change its exit status, and is never counted as the grader's failure; a
case that a limit ends has the limit named in its report. Known limits are pinned (see
docs/ci.md, "What containment cannot do").

The corpus is graded twice: with ``--isolation worker`` (the default: the submission's
code runs in processes of its own, apart from the checks) and ``--isolation process``
(beside the checks in the grading child, where forging from inside is a pinned limit).
Both modes are module-scoped: under CI's ``--dist loadscope`` one worker grades each mode
once and reads every test of the module from it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.check_status import WORKER_ENDED
from pytest_tutorial.grading import batch, gradebook, sandbox
from tests.adversarial.cases import CASES, REPO, Case
from tests.adversarial.limit_cases import NAMED, NAMED_IN_WORKER
from tests.adversarial.stream_cases import FORGED_FROM_INSIDE
from tests.conftest import validate_report

pytestmark = pytest.mark.slow

HOSTILE = sandbox.Limits(
    wall_s=15,
    cpu_s=60,
    memory_mb=1536,
    file_size_mb=16,
    open_files=256,
    processes=64,
    output_kb=256,
    scratch_mb=256,
)
"""Short limits: no honest run of these cases needs more. The wall clock ends
``loop_in_method``, which swallows every per-check time limit; it waits rather than spins,
so the CPU limit never races the wall clock for it. The tight batch below tests each CPU
limit."""
WITH_LEARNER_TESTS = sandbox.Limits(**{**HOSTILE.__dict__, "wall_s": 45.0, "cpu_s": 45})
TIGHT = sandbox.Limits(
    **{**HOSTILE.__dict__, "wall_s": 90.0, "cpu_s": 2, "file_size_mb": 8, "scratch_mb": 64}
)
"""Small enough for each resource limit to end a case before the wall clock does. The CPU
limit is a spinning case's cost twice over (a 2 s soft and a 3 s hard limit, each mode):
an honest grading child of the batch, forked warm, uses about 0.2 s of CPU."""
TIGHT_CHECK_TIMEOUT_S = 75.0
"""A check's time limit in the tight batch: the CPU limits must end a spinning case first,
and a spin to the hard limit (9 s then) took over 30 s of wall time at a load average of 6 to 10
on a shared 2-core machine."""
SLACK_S = 10.0
"""Beyond its wall-clock limit, what grading a case may take (copying, cleanup)."""
BY_NAME = {case.name: case for case in CASES}


@dataclass
class Listener:
    """A loopback server that hands out the reference solution to whoever connects."""

    server: socket.socket
    connections: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def serve(self) -> None:
        payload = (REPO / "reference_solutions/caching/cache_service.py").read_bytes()
        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                connection, address = self.server.accept()
            except TimeoutError:
                continue
            self.connections.append(str(address))
            with connection:
                connection.sendall(payload)


@dataclass
class Corpus:
    reports: dict[str, dict[str, Any]]
    outs: list[Path]
    connections: list[str]
    leftovers: list[str]
    isolated: bool
    batches: list[batch.Batch]
    isolation: str
    """``worker`` or ``process``: where the submissions' code ran."""

    @property
    def in_workers(self) -> bool:
        return self.isolation == "worker"


RUN_ID = f"corpus{os.getpid()}"


def _leftovers() -> list[str]:
    """Processes the corpus' submissions might have left: by marker variable or command."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if f"{sandbox.MARKER_VARIABLE}={RUN_ID}-".encode() in environ or b"sleep 31337" in command:
            found.append(f"{entry.name}: {command.decode(errors='replace')[:120]}")
    return found


def _grade(
    cases: list[Case],
    folder: Path,
    out: Path,
    values: dict[str, str],
    *,
    jobs: int = 2,
    **options: Any,
) -> batch.Batch:
    folder.mkdir(parents=True, exist_ok=True)
    paths = tuple(case.build(folder, values) for case in cases)
    return batch.run(
        batch.Options(
            tutorial="caching", out=out, submissions=paths, jobs=jobs, run_id=RUN_ID, **options
        )
    )


@pytest.fixture(scope="module", params=["worker", "process"])
def corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    isolation: str = request.param
    root = tmp_path_factory.mktemp(f"corpus-{isolation}")
    server = socket.create_server(("127.0.0.1", 0))
    listener = Listener(server)
    thread = threading.Thread(target=listener.serve, daemon=True)
    thread.start()
    outs = [root / "out-learner-tests", root / "out", root / "out-tight"]
    values = {"port": str(server.getsockname()[1]), "out": str(outs[1]), "repo": str(REPO)}
    started = time.monotonic()
    try:
        batches = [
            _grade(
                [c for c in CASES if c.learner_tests],
                root / "a",
                outs[0],
                values,
                jobs=1,  # two cases: a second job slot's warm server would cost more than it saves
                isolation=isolation,
                limits=WITH_LEARNER_TESTS,
                check_timeout=5.0,
            ),
            _grade(
                [c for c in CASES if not c.learner_tests and not c.tight_limits],
                root / "b",
                outs[1],
                values,
                isolation=isolation,
                limits=HOSTILE,
                check_timeout=2.0,
                keyword="not own_tests",
            ),
            _grade(
                [c for c in CASES if c.tight_limits],
                root / "c",
                outs[2],
                values,
                isolation=isolation,
                limits=TIGHT,
                check_timeout=TIGHT_CHECK_TIMEOUT_S,
                keyword="round_trips_through_redis",
            ),
        ]
    finally:
        listener.stop.set()
        thread.join()
        server.close()
    print(f"corpus graded ({isolation}) in {time.monotonic() - started:.1f} s")
    reports = {}
    for out in outs:
        book = json.loads((out / "gradebook.json").read_text(encoding="utf-8"))
        for entry in book["submissions"]:
            path = out / entry["report"]
            reports[entry["submission"]] = json.loads(path.read_text(encoding="utf-8"))
    isolated = next(iter(reports.values()))["grading"]["sandbox"] == "bubblewrap"
    leftovers, deadline = _leftovers(), time.monotonic() + 10
    while leftovers and time.monotonic() < deadline:  # killed processes may take a moment
        time.sleep(0.2)
        leftovers = _leftovers()
    for line in leftovers:  # a safety net, so a failure here does not outlive the test run
        with contextlib.suppress(OSError):
            os.kill(int(line.partition(":")[0]), signal.SIGKILL)
    return Corpus(reports, outs, listener.connections, leftovers, isolated, batches, isolation)


def _checks(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [check for item in report["checklist"] for check in item["checks"]]


def _messages(report: dict[str, Any]) -> str:
    return "\n".join(check["message"] for check in _checks(report))


def test_every_case_has_a_valid_report_and_the_batch_went_on(corpus: Corpus) -> None:
    assert sorted(corpus.reports) == sorted(case.name for case in CASES)
    for report in corpus.reports.values():
        validate_report(report)


def test_no_case_counts_as_the_grader_s_failure(corpus: Corpus) -> None:
    """So the batch's exit status is 0, whatever the submissions did."""
    for graded in corpus.batches:
        assert graded.infrastructure_failures == []


def test_every_file_of_every_case_is_written_and_well_formed(corpus: Corpus) -> None:
    for out in corpus.outs:
        book = gradebook.read(out)  # not overwritten by a submission named gradebook.json
        assert book.rows
        for entry in book.rows:
            folder = (out / entry["report"]).parent
            assert folder.parent == out / "submissions"
            for name in ("report.json", "results.json", "junit.xml", "output.txt"):
                (folder / name).read_bytes().decode("utf-8")  # strictly UTF-8
            ElementTree.parse(folder / "junit.xml")
        assert (out / "gradebook.csv").read_text(encoding="utf-8").startswith("submission,")
        assert (out / "summary.md").read_text(encoding="utf-8").startswith("## pytest-tutorial")


def test_hostile_text_is_kept_readable_and_safe(corpus: Corpus) -> None:
    text = _messages(corpus.reports["surrogate_message"])
    assert "lone \ufffd surrogate, \ufffd nul, \ufffd[2J escape" in text


def test_a_decompression_bomb_stops_at_the_budget(corpus: Corpus) -> None:
    grading = corpus.reports["tar_bz2_bomb"]["grading"]
    assert grading["outcome"] == "invalid"
    assert "larger than 64 MiB unpacked" in grading["detail"]


def test_an_early_done_does_not_pass_for_a_completed_run(corpus: Corpus) -> None:
    report = corpus.reports["forged_done_then_exit"]
    if corpus.in_workers:  # the stream is the child's alone: the forgery never reaches it
        assert report["grading"]["outcome"] == "completed"
        assert report["score"]["points"] == 0
        return
    assert "selected check(s) never reported" in report["grading"]["detail"]


@pytest.mark.parametrize("case", sorted(NAMED))
def test_a_limit_that_ends_a_case_is_named(corpus: Corpus, case: str) -> None:
    if BY_NAME[case].needs_sandbox and not corpus.isolated:
        pytest.skip("the scratch folder is a tmpfs of limited size only inside bubblewrap")
    report = corpus.reports[case]
    grading = report["grading"]
    if corpus.in_workers:  # the limit ended the worker: the checks it failed say which
        named = NAMED_IN_WORKER[case]
        assert named in grading["detail"] + _messages(report), _messages(report)[:2000]
        assert grading["signal"] is None
        return
    signal_name, named = NAMED[case]
    assert grading["signal"] == signal_name
    assert named in grading["detail"]
    assert grading["usage"]["peak_rss_mb"] > 0


def test_no_process_is_left_behind(corpus: Corpus) -> None:
    if not corpus.isolated:
        pytest.skip("rlimits-only mode cannot guarantee it (docs/ci.md)")
    assert corpus.leftovers == []


@pytest.mark.parametrize("case", [case.name for case in CASES])
def test_case_ends_within_its_limit(corpus: Corpus, case: str) -> None:
    grading = corpus.reports[case]["grading"]
    wall = HOSTILE.wall_s
    if BY_NAME[case].learner_tests:
        wall = WITH_LEARNER_TESTS.wall_s
    elif BY_NAME[case].tight_limits:
        wall = TIGHT.wall_s
    assert grading["duration_s"] <= wall + SLACK_S
    assert grading["outcome"] != "not_started", grading["detail"]


EXPECTED_OUTCOME_IN_PROCESS = {
    "loop_in_method": {"timeout"},
    "os_exit_at_import": {"crashed"},
    "output_flood": {"output_limit", "crashed"},
    "dies_mid_run": {"crashed"},
    # The address-space limit raises MemoryError wherever the child allocates next: in the
    # submission's import (the run completes, every check errors) or in pytest itself.
    "memory_bomb": {"completed", "crashed"},
    "forged_done_then_exit": {"crashed"},
    "tar_bz2_bomb": {"invalid"},
    "cpu_spin": {"crashed"},
    "ignores_sigxcpu": {"crashed"},
    "file_size_kill": {"crashed"},
    # A full scratch folder may or may not stop pytest itself (its own files live there).
    "fills_scratch": {"completed", "crashed"},
    "huge_and_deep_values": {"completed", "timeout"},
}
EXPECTED_OUTCOME_IN_WORKERS = {
    # Only the wall clock and the output cap end the grading child itself; a limit, a crash
    # or an exit of the submission's code ends its worker, and the checks say so.
    "loop_in_method": {"timeout"},
    "output_flood": {"output_limit", "completed"},
    "tar_bz2_bomb": {"invalid"},
    # A full scratch folder may or may not stop pytest itself (its own files live there).
    "fills_scratch": {"completed", "crashed"},
    # 33 MiB answers, over the channel's cap, refused on every call (unencoded).
    "huge_and_deep_values": {"completed", "timeout"},
}
PINNED_IN_PROCESS = {"patches_the_checks", "imports_known_bad", *FORGED_FROM_INSIDE}
"""Known limits: these score points today (docs/ci.md says why); the test pins it."""
PINNED_IN_WORKERS = {"imports_known_bad"}
"""A limit of the caching tutorial, not of grading (docs/ci.md)."""


@pytest.mark.parametrize("case", [c.name for c in CASES if c.name != "dies_mid_run"])
def test_hostile_case_scores_zero(corpus: Corpus, case: str) -> None:
    if case in (PINNED_IN_WORKERS if corpus.in_workers else PINNED_IN_PROCESS):
        pytest.skip("a known limit, pinned below")
    if BY_NAME[case].needs_sandbox and not corpus.isolated:
        pytest.skip("only bubblewrap contains this case (rlimits-only mode does not)")
    report = corpus.reports[case]
    assert report["score"]["points"] == 0, _messages(report)
    assert report["verdict"] != "validated"
    expected = EXPECTED_OUTCOME_IN_WORKERS if corpus.in_workers else EXPECTED_OUTCOME_IN_PROCESS
    assert report["grading"]["outcome"] in expected.get(case, {"completed"}), report["grading"]


def test_a_wall_clock_kill_keeps_the_running_check_as_timeout(corpus: Corpus) -> None:
    checks = _checks(corpus.reports["loop_in_method"])
    timeouts = [c["status"] for c in checks].count("timeout")
    # In workers the per-check limit ends each spinning call (its worker is replaced) until
    # the wall clock ends the run; in one process the spin swallows it, so one check hangs.
    assert timeouts >= 1 if corpus.in_workers else timeouts == 1
    assert all(c["status"] in ("timeout", "failed", "skipped") for c in checks)


def test_a_submission_that_dies_mid_run_keeps_what_it_earned(corpus: Corpus) -> None:
    report = corpus.reports["dies_mid_run"]
    assert 0 < report["score"]["points"] < report["score"]["max_points"]
    statuses = [check["status"] for check in _checks(report)]
    if corpus.in_workers:  # each check it dies in fails alone; the next gets a new worker
        # (The reference's whole run is close to the corpus' 15 s wall clock on a busy
        # machine; what it earned before stays either way.)
        assert report["grading"]["outcome"] in ("completed", "timeout")
        # A check that calls the dying method itself says how the call failed. (A check may
        # also run out of its short time limit on a busy machine.)
        failed = [c for c in _checks(report) if c["status"] not in ("passed", "skipped")]
        assert any(check["message"].startswith(WORKER_ENDED) for check in failed)
        for check in failed:
            assert check["status"] == "timeout" or "exited with status 0" in check["message"]
        return
    assert report["grading"]["outcome"] == "crashed"
    assert statuses.count("error") == 1  # the check it died in
    assert any(check["message"].startswith("no verdict") for check in _checks(report))


def test_a_channel_that_a_submission_breaks_is_never_read_again(corpus: Corpus) -> None:
    """A frame header whose body never comes ends the worker at once, named; no check
    waits out its time limit on it."""
    if not corpus.in_workers:
        pytest.skip("no channel: the submission runs in the grading child")
    report = corpus.reports["blocks_the_channel"]
    checks = [c for c in _checks(report) if c["status"] != "skipped"]
    assert all("a frame of 2147483647 bytes is over" in c["message"] for c in checks)
    assert all(c["status"] != "timeout" for c in checks)


def test_root_conftest_is_ignored_everywhere(corpus: Corpus) -> None:
    report = corpus.reports["conftest_forces_passes"]
    assert any("conftest.py" in entry for entry in report["grading"]["skipped_files"])
    tests_item = next(item for item in report["checklist"] if item["id"] == "tests")
    # Not passed: failed, or out of its 5 s time limit on a busy machine.
    statuses = [check["status"] for check in tests_item["checks"]]
    assert len(statuses) == 2
    assert set(statuses) <= {"failed", "timeout"}


def test_ini_files_of_the_submission_are_ignored(corpus: Corpus) -> None:
    skipped = [c for c in _checks(corpus.reports["ini_addopts"]) if c["status"] == "skipped"]
    assert all(check["message"] == "not run (deselected)" for check in skipped)
    assert all("own_tests" in check["id"] for check in skipped)


def test_the_sandbox_hides_checks_reference_and_secrets(corpus: Corpus) -> None:
    if not corpus.isolated:
        pytest.skip("needs bubblewrap")
    text = _messages(corpus.reports["probes_the_sandbox"])
    assert (
        "probe: checks=hidden reference=hidden fed_reference=hidden shadow=hidden "
        "package=readonly own_reference=blocked"
    ) in text
    if os.geteuid() == 0:
        assert "root=no" in text


def test_no_connection_left_the_sandbox(corpus: Corpus) -> None:
    if not corpus.isolated:
        pytest.skip("needs bubblewrap")
    assert corpus.connections == []


def test_nothing_forged_reached_the_output_folders(corpus: Corpus) -> None:
    if not corpus.isolated:
        pytest.skip("needs bubblewrap: with limits only a submission can write anywhere")
    for out in corpus.outs:
        for path in out.rglob("*"):
            if path.is_file():
                assert "FORGED" not in path.read_text(encoding="utf-8", errors="replace"), path


def test_archives_are_unpacked_and_graded(corpus: Corpus) -> None:
    assert "cache_service.py:1: SyntaxError" in _messages(corpus.reports["syntax_error"])
    assert "no_such_module_for_grading" in _messages(corpus.reports["import_error"])


def test_pinned_limit_of_the_tutorial(corpus: Corpus) -> None:
    """The caching tutorial's known-bad base class is correct with default flags and must
    stay importable for the known-bad runs: borrowing it earns points in either mode."""
    borrowed = corpus.reports["imports_known_bad"]
    assert borrowed["score"]["points"] > 0


def test_pinned_limit_of_sharing_a_process(corpus: Corpus) -> None:
    """With ``--isolation process`` code beside the checks can replace them with no-ops."""
    patched = corpus.reports["patches_the_checks"]
    assert patched["grading"]["outcome"] == "completed"
    if corpus.in_workers:
        assert patched["score"]["points"] == 0
    else:
        assert patched["score"]["points"] > 0


@pytest.mark.parametrize("case", sorted(FORGED_FROM_INSIDE))
def test_verdicts_forged_from_inside_the_submission(corpus: Corpus, case: str) -> None:
    """Beside the checks (``--isolation process``) every selected check passes, a pinned
    limit; with workers the forgery reaches nothing and the starter it wraps scores 0."""
    report = corpus.reports[case]
    assert report["grading"]["outcome"] == "completed"
    statuses = {check["status"] for check in _checks(report)}
    if corpus.in_workers:
        assert report["score"]["points"] == 0
        assert "passed" not in statuses
    else:
        assert statuses == {"passed", "skipped"}  # skipped: deselected by -k
