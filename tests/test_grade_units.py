"""Fast unit tests of the grader's parts: archives, the stream, results, outputs, batches."""

from __future__ import annotations

import io
import json
import os
import tarfile
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.grading import archive, batch, gradebook, outputs, results, sandbox, stream
from pytest_tutorial.grading.progress import Progress
from pytest_tutorial.grading.results import OutcomeKind
from pytest_tutorial.report_model import CheckEntry, Report
from pytest_tutorial.scoring import CheckSpec, Status

TOKEN = "t0ken"


# --- archives --------------------------------------------------------------------------


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
    return path


def test_zip_entries_cannot_escape_and_wrappers_are_unwrapped(tmp_path: Path) -> None:
    source = _zip(
        tmp_path / "alice.zip",
        {
            "alice/cache_service.py": b"x = 1\n",
            "alice/tests/test_x.py": b"",
            "alice/conftest.py": b"raise SystemExit\n",
            "../evil.py": b"",
            "/abs.py": b"",
            "alice/__pycache__/junk.pyc": b"",
        },
    )
    copy = archive.make_copy(source, tmp_path / "copy", module_file="cache_service.py")
    assert copy.root == tmp_path / "copy" / "alice"
    assert sorted(p.name for p in copy.root.rglob("*")) == [
        "cache_service.py",
        "test_x.py",
        "tests",
    ]
    assert not (tmp_path / "evil.py").exists()
    assert any("conftest.py" in entry for entry in copy.skipped)
    assert sum("outside the submission" in entry for entry in copy.skipped) == 2


def test_tar_links_and_special_files_are_skipped(tmp_path: Path) -> None:
    source = tmp_path / "bob.tar.gz"
    with tarfile.open(source, "w:gz") as bundle:
        data = b"y = 2\n"
        info = tarfile.TarInfo("cache_service.py")
        info.size = len(data)
        bundle.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("secret.py")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
        bundle.addfile(link)
        hard = tarfile.TarInfo("hard.py")
        hard.type, hard.linkname = tarfile.LNKTYPE, "/etc/passwd"
        bundle.addfile(hard)
    copy = archive.make_copy(source, tmp_path / "copy", module_file="cache_service.py")
    assert [p.name for p in copy.root.iterdir()] == ["cache_service.py"]
    assert len(copy.skipped) == 2


def test_unpacking_is_bounded_whatever_the_archive_claims(tmp_path: Path) -> None:
    source = _zip(tmp_path / "bomb.zip", {"cache_service.py": b"0" * 50_000})
    with pytest.raises(archive.SubmissionError, match="larger than"):
        archive.make_copy(
            source, tmp_path / "copy", module_file="cache_service.py", max_bytes=10_000
        )
    many = _zip(tmp_path / "many.zip", {f"f{n}.py": b"" for n in range(20)})
    with pytest.raises(archive.SubmissionError, match="more than 10 files"):
        archive.make_copy(many, tmp_path / "copy2", module_file="cache_service.py", max_files=10)


def test_folder_copies_follow_no_link_out(tmp_path: Path) -> None:
    source = tmp_path / "carol"
    source.mkdir()
    (source / "cache_service.py").write_text("z = 3\n")
    (source / "inside.py").symlink_to(source / "cache_service.py")
    (source / "outside.py").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "secret.txt").write_text("secret")
    (source / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    copy = archive.make_copy(source, tmp_path / "copy", module_file="cache_service.py")
    assert sorted(p.name for p in copy.root.iterdir()) == ["cache_service.py", "inside.py"]
    assert not (copy.root / "inside.py").is_symlink()
    assert len(copy.skipped) == 2


def test_not_a_submission(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(archive.SubmissionError, match="neither a folder"):
        archive.make_copy(tmp_path / "notes.txt", tmp_path / "c", module_file="m.py")
    with pytest.raises(archive.SubmissionError, match="not a readable zip"):
        archive.make_copy(_bad(tmp_path / "x.zip"), tmp_path / "d", module_file="m.py")


def _bad(path: Path) -> Path:
    path.write_bytes(b"PK not really")
    return path


# --- jobs and shards -------------------------------------------------------------------


def test_submission_ids_are_unique_and_shards_partition_the_batch(tmp_path: Path) -> None:
    paths = [tmp_path / "a" / "caching", tmp_path / "b" / "caching", tmp_path / "zoe.zip"]
    paths += [tmp_path / f"s{n:02d}" for n in range(7)]
    jobs = batch.assign_jobs(paths)
    idents = [job.ident for job in jobs]
    assert len(set(idents)) == len(idents)
    assert {"a-caching", "b-caching", "zoe"} <= set(idents)
    assert batch.assign_jobs(list(reversed(paths))) == jobs
    assert archive.submission_id(Path("/x/..")) == "submission"
    assert archive.submission_id(Path("/x/../e v/il.tar.gz")) == "il"
    assert archive.submission_id(Path("/x/.hidden dir")) == "hidden_dir"
    shares = [batch.select_shard(jobs, (index, 3)) for index in (1, 2, 3)]
    assert sorted(job.ident for share in shares for job in share) == sorted(idents)
    assert [len(share) for share in shares] == [4, 3, 3]


# --- the stream ------------------------------------------------------------------------


def test_decoder_takes_only_well_formed_lines_with_the_token() -> None:
    decoder = stream.StreamDecoder(TOKEN)
    good = stream.encode(TOKEN, stream.START, nodeid="x")
    events = decoder.feed(good[:10])
    events += decoder.feed(good[10:] + stream.encode("forged", stream.START, nodeid="y"))
    events += decoder.feed(
        b"not json\n" + json.dumps({"token": TOKEN, "event": "evil"}).encode() + b"\n"
    )
    assert [event["nodeid"] for event in events] == ["x"]
    assert decoder.rejected == 3
    decoder.feed(b"x" * (stream.MAX_LINE + 1))
    assert decoder.rejected == 4


def _spec(name: str, points: int = 1) -> CheckSpec:
    return CheckSpec(f"caching/check_core.py::{name}", name, "core", points, None, "")


def _state(*names: str) -> results.StreamState:
    """A state whose child collected (and selected) the checks ``names``."""
    state = results.StreamState(frozenset(_spec(n).nodeid for n in names))
    state.collected = [_spec(n).nodeid for n in names]
    return state


def _event(kind: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"event": kind, "nodeid": f"caching/check_core.py::{name}", **fields}


def test_results_need_a_start_and_count_once() -> None:
    state = _state("a", "b", "c")
    state.apply(_event(stream.RESULT, "a", status="passed"))  # no start: ignored
    for kind, status in (
        (stream.START, None),
        (stream.RESULT, "passed"),
        (stream.RESULT, "passed"),
    ):
        state.apply(_event(kind, "b", status=status))
    state.apply(_event(stream.START, "c"))
    state.apply(_event(stream.RESULT, "c", status="manual"))  # not a check status
    state.apply(_event(stream.START, "nope"))
    assert set(state.results) == {"caching/check_core.py::b"}
    assert state.results["caching/check_core.py::b"].status is Status.FAILED  # two verdicts
    assert state.running == "caching/check_core.py::c"


@pytest.mark.parametrize(
    ("kind", "running_status"),
    [(OutcomeKind.TIMEOUT, Status.TIMEOUT), (OutcomeKind.CRASHED, Status.ERROR)],
)
def test_checks_without_a_verdict(kind: OutcomeKind, running_status: Status) -> None:
    specs = [_spec("a"), _spec("b"), _spec("c"), _spec("d")]
    state = _state("a", "b", "c", "d")
    state.apply(_event(stream.START, "a"))
    state.apply(_event(stream.RESULT, "a", status="passed", duration_s=0.5))
    state.apply(_event(stream.START, "b"))
    state.deselected.add(specs[3].nodeid)
    found = results.final_results(specs, state, results.Outcome(kind, "it stopped"))
    assert [found[s.nodeid].status for s in specs] == [
        Status.PASSED,
        running_status,
        Status.FAILED,
        Status.SKIPPED,
    ]
    assert found[specs[2].nodeid].message.startswith("no verdict: it stopped")


def test_malformed_load_figures_are_dropped() -> None:
    state = _state("a")
    state.apply(_event(stream.START, "a"))
    state.apply(_event(stream.RESULT, "a", status="passed", load={"check": 1}))
    assert state.performance == []
    assert any("malformed" in note for note in state.notes)


# --- outputs ---------------------------------------------------------------------------


def _report(message: str = "boom") -> Report:
    check: CheckEntry = {
        "id": "caching/check_core.py::test_a",
        "name": "test_a",
        "status": "failed",
        "message": message,
        "hint": "fix it",
        "hint_level": 1,
        "hint_levels": 1,
        "counterexample": "",
        "reproduce": "",
        "step": "Step 1",
        "points": 2,
        "duration_s": 0.1,
    }
    passed: CheckEntry = {
        **check,
        "id": "caching/check_core.py::test_b",
        "name": "test_b",
        "status": "passed",
        "message": "",
    }
    return {
        "schema_version": "1.1",
        "tutorial": {
            "id": "caching",
            "title": "T",
            "version": "1",
            "validation_method": "automated",
        },
        "solution": {"path": "/x/alice", "kind": "path"},
        "verdict": "not_validated",
        "score": {"points": 2, "max_points": 4},
        "checklist": [
            {
                "id": "core",
                "text": "Core",
                "section": "Validation Checklist",
                "automated": True,
                "status": "failed",
                "points": 2,
                "max_points": 4,
                "checks": [check, passed],
            }
        ],
        "performance": [],
        "problems": [],
        "duration_s": 1.5,
        "versions": {},
        "grading": {
            "submission": "alice",
            "source": "/x/alice",
            "sandbox": "bubblewrap",
            "outcome": "completed",
            "duration_s": 1.5,
        },
    }


def test_gradescope_results_truncate_long_output_visibly() -> None:
    scope = outputs.gradescope(_report("x" * 20_000))
    assert (scope["score"], scope["max_score"]) == (2, 4)
    failed, passed = scope["tests"]
    assert (failed["score"], failed["max_score"], failed["status"]) == (0, 2, "failed")
    assert (passed["score"], passed["status"], passed["visibility"]) == (2, "passed", "visible")
    assert "[output truncated: " in failed["output"]
    assert len(failed["output"]) < outputs.OUTPUT_LIMIT + 200


def test_junit_counts_and_properties() -> None:
    suite = ElementTree.fromstring(outputs.junit(_report()).split("\n", 1)[1])
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    names = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert names["points"] == "2"
    assert names["submission"] == "alice"


def test_gradebook_rows_csv_and_summary(tmp_path: Path) -> None:
    row = gradebook.row(_report(), 1.5)
    book = gradebook.Gradebook(
        {"id": "caching", "title": "T", "version": "1"},
        [{"id": "core", "text": "Core", "max_points": 4}],
        4,
        [row, {**row, "submission": "bob|x", "grading": "timeout", "detail": "too slow"}],
    )
    summary = book.write(tmp_path)
    assert "alice,completed,not_validated,2,4,50.0,2," in (tmp_path / "gradebook.csv").read_text()
    assert "| bob\\|x | 2/4 |" in summary
    assert "**bob\\|x**: too slow" in summary
    assert gradebook.read(tmp_path).rows[0]["submission"] == "alice"


def test_step_summary_is_appended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "summary.md"
    target.write_text("before\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    gradebook.append_step_summary("## grades")
    assert target.read_text() == "before\n## grades\n"


def test_progress_prints_a_line_per_submission_without_a_terminal() -> None:
    text = io.StringIO()
    progress = Progress(2, text, tty=False)
    progress.begin()
    progress.finish("alice", "2/4")
    assert text.getvalue() == "[1/2] alice: 2/4\n"
    bar = io.StringIO()
    tty = Progress(2, bar, tty=True)
    tty.begin()
    tty.finish("alice", "2/4")
    assert "1/2 graded" in bar.getvalue()


# --- sandbox ---------------------------------------------------------------------------


def test_limits_travel_to_the_child_intact() -> None:
    limits = sandbox.Limits(wall_s=5, cpu_s=3, memory_mb=100)
    assert sandbox.Limits.from_json(limits.to_json()) == limits


def test_the_sandbox_sees_no_working_tree() -> None:
    from tests.conftest import REPO

    args = sandbox.bwrap_prefix("bwrap", hidden=[], submission=None, scratch_mb=8)
    assert {"--unshare-net", "--unshare-pid", "--die-with-parent"} <= set(args)
    binds = [args[i + 1] for i, arg in enumerate(args) if arg in ("--ro-bind", "--bind")]
    for path in binds:
        assert not (REPO / "reference_solutions").is_relative_to(Path(path)), path


def test_the_child_environment_is_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_ADDOPTS", "-k nothing")
    monkeypatch.setenv("GITHUB_TOKEN", "secret")
    env = sandbox.child_environment(Path("/grading"), "run-1")
    assert "PYTEST_ADDOPTS" not in env
    assert "GITHUB_TOKEN" not in env
    assert env[sandbox.MARKER_VARIABLE] == "run-1"
    assert os.pathsep in env["PATH"]
