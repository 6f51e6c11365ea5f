"""One submission cannot break the batch: unpacking under the limits, guarded outputs, paths.

Unpacking charges every member of an archive (skipped ones too) to the budgets and runs in
a limited child inside the wall clock; building and writing each submission's outputs
falls back to a minimal report; the gradebook and the merged gradebook always link to
reports that exist; a path that does not exist stops ``grade`` before it grades anything.
"""

from __future__ import annotations

import bz2
import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.cli import main
from pytest_tutorial.grading import archive, batch, gradebook, outputs, sandbox, unpacker
from pytest_tutorial.grading import submission as submission_module
from pytest_tutorial.grading.results import OutcomeKind
from pytest_tutorial.grading.sandbox import SandboxKind
from pytest_tutorial.report_model import Report
from pytest_tutorial.scoring import CheckSpec

MODULE = "cache_service.py"
GiB = 1024**3


def _zeros_bomb(path: Path, size: int, *, under: str = ".git/objects/pack/zeros") -> Path:
    """A .tar.bz2 of a few KB whose member ``under`` holds ``size`` zeros (then the module).

    Built from concatenated bz2 streams of 16 MiB of zeros each, which bz2 reads as one.
    """
    member = tarfile.TarInfo(under)
    member.size = size
    block = bz2.compress(bytes(16 * 1024 * 1024))
    module = tarfile.TarInfo(MODULE)
    module.size = 6
    with path.open("wb") as out:
        out.write(bz2.compress(member.tobuf(format=tarfile.GNU_FORMAT)))
        for _ in range(size // (16 * 1024 * 1024)):
            out.write(block)
        tail = module.tobuf() + b"x = 1\n".ljust(512, b"\0") + bytes(1024)
        out.write(bz2.compress(tail))
    return path


def test_a_skipped_member_is_charged_as_it_is_decompressed(tmp_path: Path) -> None:
    bomb = _zeros_bomb(tmp_path / "bomb.tar.bz2", GiB)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(archive.SubmissionError, match="larger than 64 MiB unpacked"):
        archive.make_copy(bomb, tmp_path / "copy", module_file=MODULE)


def test_skipped_members_count_as_files(tmp_path: Path) -> None:
    source = tmp_path / "many.tar.gz"
    with tarfile.open(source, "w:gz") as bundle:
        for number in range(20):
            info = tarfile.TarInfo(f"node_modules/m{number}.js")
            bundle.addfile(info, io.BytesIO())
        bundle.addfile(tarfile.TarInfo(MODULE), io.BytesIO())
    with pytest.raises(archive.SubmissionError, match="more than 10 files or archive entries"):
        archive.make_copy(source, tmp_path / "copy", module_file=MODULE, max_files=10)


def test_a_huge_pax_header_is_charged_before_it_is_read(tmp_path: Path) -> None:
    """tarfile keeps a pax header in memory whole: the budget stops it first."""
    source = tmp_path / "pax.tar.gz"
    with tarfile.open(source, "w:gz", format=tarfile.PAX_FORMAT) as bundle:
        info = tarfile.TarInfo(MODULE)
        info.pax_headers = {"comment": "x" * (3 * 1024 * 1024)}
        bundle.addfile(info, io.BytesIO())
    with pytest.raises(archive.SubmissionError, match="larger than 1 MiB"):
        archive.make_copy(source, tmp_path / "copy", module_file=MODULE, max_bytes=1024 * 1024)


def test_an_archive_is_recognised_by_its_content_not_its_name(tmp_path: Path) -> None:
    source = tmp_path / "alice.tar.gz"  # really bz2
    with tarfile.open(source, "w:bz2") as bundle:
        data = b"x = 1\n"
        info = tarfile.TarInfo(f"alice/{MODULE}")
        info.size = len(data)
        bundle.addfile(info, io.BytesIO(data))
    copy = archive.make_copy(source, tmp_path / "copy", module_file=MODULE)
    assert (copy.root / MODULE).read_text() == "x = 1\n"
    assert copy.size == 6


def test_empty_submissions_are_warned_about(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    empty = archive.make_copy(tmp_path / "empty", tmp_path / "c1", module_file=MODULE)
    assert empty.warnings == ["the submission is empty: it holds no file that is graded"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "README.md").write_text("hi")
    other = archive.make_copy(tmp_path / "other", tmp_path / "c2", module_file=MODULE)
    assert other.warnings[0].startswith(f"the submission holds no {MODULE}")


@pytest.mark.slow
def test_unpacking_runs_in_a_child_inside_the_wall_clock(tmp_path: Path) -> None:
    limits = sandbox.Limits(wall_s=0.001)
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / MODULE).write_text("x = 1\n")
    with pytest.raises(archive.SubmissionError, match=r"within the 0\.001 s wall-clock limit"):
        unpacker.make_copy(
            folder, tmp_path / "c1", module_file=MODULE, limits=limits, deadline=time.monotonic()
        )
    copy = unpacker.make_copy(
        folder,
        tmp_path / "c2",
        module_file=MODULE,
        limits=sandbox.Limits(),
        deadline=time.monotonic() + 60,
    )
    assert copy.root == tmp_path / "c2"
    assert (copy.root / MODULE).is_file()
    bomb = _zeros_bomb(tmp_path / "bomb.tar.bz2", GiB)
    with pytest.raises(archive.SubmissionError, match="larger than 64 MiB"):
        unpacker.make_copy(
            bomb,
            tmp_path / "c3",
            module_file=MODULE,
            limits=sandbox.Limits(),
            deadline=time.monotonic() + 60,
        )


@pytest.mark.slow
def test_a_warm_unpacker_forks_each_copy_under_the_submissions_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / MODULE).write_text("x = 1\n")
    bomb = _zeros_bomb(tmp_path / "bomb.tar.bz2", GiB)
    # A copy no fork can finish within 1 ms: a child of a two-file folder could, and the
    # warm server, waking late on a busy machine, then reaps it as done.
    many = tmp_path / "many"
    many.mkdir()
    (many / MODULE).write_text("x = 1\n")
    for number in range(4000):
        (many / f"file_{number}.txt").write_text("x")
    warm = unpacker.WarmUnpacker()
    try:
        assert warm.warm

        def new_interpreter(*args: object, **kwargs: object) -> archive.Copy:
            raise AssertionError("the copy was made by a new interpreter, not a fork")

        with monkeypatch.context() as patched:
            patched.setattr(unpacker, "make_copy", new_interpreter)

            def copy(target: str, limits: sandbox.Limits, source: Path = folder) -> archive.Copy:
                return warm.make_copy(
                    source,
                    tmp_path / target,
                    module_file=MODULE,
                    limits=limits,
                    deadline=time.monotonic() + min(limits.wall_s, 60),
                )

            made = copy("c1", sandbox.Limits())
            assert (made.root / MODULE).read_text() == "x = 1\n"
            with pytest.raises(archive.SubmissionError, match="1 MB memory limit"):
                copy("c2", sandbox.Limits(memory_mb=1))  # the limits are set in the fork
            with pytest.raises(archive.SubmissionError, match="larger than 64 MiB"):
                copy("c3", sandbox.Limits(), source=bomb)
            with pytest.raises(archive.SubmissionError, match=r"0\.001 s wall-clock limit"):
                copy("c4", sandbox.Limits(wall_s=0.001), source=many)
            assert copy("c5", sandbox.Limits()).root == tmp_path / "c5"  # none left a trace
    finally:
        warm.close()
    assert not warm.warm
    after = warm.make_copy(  # once the warm process is gone: a new interpreter
        folder,
        tmp_path / "c6",
        module_file=MODULE,
        limits=sandbox.Limits(),
        deadline=time.monotonic() + 60,
    )
    assert (after.root / MODULE).is_file()


# --- guarded outputs -------------------------------------------------------------------


def _plan(tmp_path: Path, *, box: sandbox.Sandbox | None = None) -> submission_module.Plan:
    source, tutorial = batch.load_tutorial("caching", ())
    spec = CheckSpec("caching/check_core.py::test_a", "test_a", "core", 2, None, "")
    return submission_module.Plan(
        tutorial=tutorial,
        source=source,
        tutorial_paths=(),
        specs=(spec,),
        limits=sandbox.Limits(scratch_mb=1),
        box=box or sandbox.Sandbox(SandboxKind.RLIMITS),
        workdir=tmp_path / "work",
        out=tmp_path / "out",
        feed=b"",
    )


def _jobs(*names: str) -> list[submission_module.Job]:
    return [submission_module.Job(n, Path(f"/x/{name}"), name) for n, name in enumerate(names)]


def test_a_report_that_cannot_be_written_falls_back_to_a_minimal_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(tmp_path)
    (job,) = _jobs("alice")
    graded = submission_module.fallback(plan, job, OutcomeKind.COMPLETED, "")
    real = outputs.write_submission
    calls: list[str] = []

    def fails_once(folder: Path, report: Report, output: bytes, cut: bool) -> None:
        calls.append(report["grading"]["outcome"])
        if len(calls) == 1:
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        real(folder, report, output, cut)

    monkeypatch.setattr(outputs, "write_submission", fails_once)
    written = batch._written(plan, graded)
    assert calls == ["completed", "crashed"]
    assert written.outcome.kind == OutcomeKind.CRASHED
    assert "could not be written (UnicodeEncodeError" in written.outcome.detail
    on_disk = json.loads((plan.out / "submissions" / "alice" / "report.json").read_text())
    assert on_disk["grading"]["outcome"] == "crashed"


def test_one_failing_submission_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(tmp_path)

    def grade(plan_: submission_module.Plan, job: submission_module.Job, slot: int) -> Any:
        if job.ident == "bad":
            raise RuntimeError("a bug")
        return submission_module.fallback(plan_, job, OutcomeKind.COMPLETED, "")

    monkeypatch.setattr(batch, "grade", grade)
    finished: list[str] = []

    def on_finish(graded: submission_module.Graded) -> None:
        finished.append(graded.job.ident)
        raise ValueError("a progress display that breaks")

    graded = batch._grade_all(plan, _jobs("ada", "bad", "cy"), 2, lambda job: None, on_finish)
    assert [g.outcome.kind for g in graded] == ["completed", "not_started", "completed"]
    assert "internal grader error: RuntimeError: a bug" in graded[1].outcome.detail
    assert sorted(finished) == ["ada", "bad", "cy"]
    for name in ("ada", "bad", "cy"):
        assert (plan.out / "submissions" / name / "report.json").is_file()


def test_a_submission_too_large_for_the_scratch_folder_is_invalid(tmp_path: Path) -> None:
    plan = _plan(tmp_path, box=sandbox.Sandbox(SandboxKind.BUBBLEWRAP, "/usr/bin/bwrap"))
    copy = archive.Copy(tmp_path, size=600 * 1024)
    with pytest.raises(archive.SubmissionError, match="more than half of the 1 MB scratch"):
        submission_module._check_fits(plan, copy)


def test_batch_files_cannot_collide_with_a_submission(tmp_path: Path) -> None:
    for name in (gradebook.JSON_NAME, gradebook.CSV_NAME, gradebook.SUMMARY_NAME):
        folder = outputs.submission_folder(tmp_path, name)
        assert folder.parent == tmp_path / outputs.SUBMISSIONS_DIR
    report: Report = {
        "schema_version": "1.1",
        "tutorial": {
            "id": "caching",
            "title": "T",
            "version": "1",
            "validation_method": "automated",
        },
        "solution": {"path": "/x/gradebook.json", "kind": "path"},
        "score": {"points": 0, "max_points": 1},
        "verdict": "error",
        "checklist": [],
        "performance": [],
        "duration_s": 1.0,
        "versions": {},
        "grading": {
            "submission": "gradebook.json",
            "source": "/x/gradebook.json",
            "sandbox": "bubblewrap",
            "outcome": "invalid",
            "duration_s": 1.0,
        },
    }
    row = gradebook.row(report, 1.0)
    assert row["report"] == "submissions/gradebook.json/report.json"


# --- paths given to grade, and merged links ---------------------------------------------


def test_paths_that_do_not_exist_are_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    given = [str(tmp_path / "submissions" / "*.zip"), str(tmp_path / "gone")]
    assert main(["grade", "--tutorial", "caching", "--out", str(out), *given]) == 2
    err = capsys.readouterr().err
    assert "2 submission path(s) do not exist" in err
    assert "*.zip: a shell pattern that matched nothing" in err
    assert "gone: no such file or folder" in err
    assert not out.exists()


def _shard(folder: Path, names: list[str], shard: int) -> None:
    rows = []
    for name in names:
        report = folder / "submissions" / name / "report.json"
        report.parent.mkdir(parents=True)
        report.write_text(json.dumps({"from": name}))
        (report.parent / "junit.xml").write_text("<testsuite/>")
        rows.append({**_row(name), "report": f"submissions/{name}/report.json"})
    _gradebook(rows, shard).write(folder)


def _row(name: str) -> dict[str, Any]:
    return {
        "submission": name,
        "source": name,
        "grading": "completed",
        "verdict": "error",
        "points": 1,
        "max_points": 2,
        "percent": 50.0,
        "items": {"core": 1},
        "duration_s": 1.0,
        "report": f"{name}/report.json",
        "detail": "",
    }


def _gradebook(rows: list[dict[str, Any]], shard: int) -> gradebook.Gradebook:
    return gradebook.Gradebook(
        tutorial={"id": "caching", "title": "Caching", "version": "1.0"},
        items=[{"id": "core", "text": "Core", "max_points": 2}],
        max_points=2,
        rows=rows,
        shard={"index": shard, "count": 2},
    )


def test_merged_report_links_resolve_from_the_merged_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _shard(tmp_path / "one", ["ada", "cy"], 1)
    _gradebook([_row("bo")], 2).write(tmp_path / "two")  # its report is missing
    out = tmp_path / "merged"
    assert main(["merge", "--out", str(out), str(tmp_path / "one"), str(tmp_path / "two")]) == 0
    assert "warning: bo: no report at" in capsys.readouterr().err
    rows = {row["submission"]: row for row in gradebook.read(out).rows}
    for name in ("ada", "cy"):
        assert json.loads((out / rows[name]["report"]).read_text()) == {"from": name}
        assert (out / "submissions" / name / "junit.xml").is_file()
    assert (out / rows["bo"]["report"]).resolve() == (tmp_path / "two/bo/report.json").resolve()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("report", "../../../etc/passwd", "leads outside"),
        ("submission", "../escape", "cannot name a folder"),
    ],
)
def test_merge_refuses_links_out_of_a_gradebook_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: str, message: str
) -> None:
    _gradebook([{**_row("ada"), field: value}], 1).write(tmp_path / "one")
    out = str(tmp_path / "merged")
    assert main(["merge", "--out", out, str(tmp_path / "one")]) == 2
    assert message in capsys.readouterr().err
