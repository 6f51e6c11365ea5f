"""Grade many submissions: the trusted list of checks, job slots, shards, the gradebook.

Before any submission runs, the parent collects the tutorial's checks in a child that
loads no submission (the trusted list: every submission is scored against it, whatever
its own child reports). Submissions are then graded ``jobs`` at a time, each in its own
job slot (a uid of its own when running as root); a failure of one never stops the
batch. ``--shard I/N`` keeps every N-th submission of the sorted list, starting at the
I-th, so the machines of a CI matrix, given the same list, grade disjoint shares.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import secrets
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_tutorial.bundled import reference_of
from pytest_tutorial.discovery import BUNDLED_ROOT, TutorialSource, get_tutorial
from pytest_tutorial.document import parse_tutorial
from pytest_tutorial.errors import usage_error
from pytest_tutorial.hypothesis_warmup import import_for_tables, shared_unicode_tables
from pytest_tutorial.model import Tutorial, ValidationMethod
from pytest_tutorial.options import user_cache_dir
from pytest_tutorial.scoring import CheckSpec

from . import archive, gradebook, outputs, results, sandbox, stream, unpacker, warm_slots
from .protocol import FED_BUGS, FED_HYPOTHESIS, FED_REFERENCE, ChildArgs, ChildMode
from .results import OutcomeKind
from .submission import Graded, Job, Plan, fallback, grade, hidden_roots

COLLECT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Options:
    """What ``pytest-tutorial grade`` was asked to do."""

    tutorial: str
    out: Path
    submissions: tuple[Path, ...]
    tutorial_paths: tuple[Path, ...] = ()
    jobs: int = 1
    shard: tuple[int, int] | None = None
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    check_timeout: float | None = None
    keyword: str | None = None
    mode: sandbox.Mode = sandbox.Mode.AUTO
    keep_workdirs: bool = False
    isolation: str = "worker"
    """Where the submission's code runs: ``worker`` (apart from the checks, the default) or
    ``process`` (beside the checks)."""
    run_id: str = field(default_factory=lambda: secrets.token_hex(6))
    """Names the batch in the marker variable of its processes (see :mod:`.sandbox`)."""
    warm: bool = True
    """Fork the grading children from a warm server per job slot where that is possible
    (:mod:`.warm_slots`), and each submission's unpacking from one warm process
    (:class:`.unpacker.WarmUnpacker`); False: every child starts as a new process
    (``--cold-start``)."""


@dataclass
class Batch:
    """The graded submissions of this run and its gradebook."""

    graded: list[Graded]
    book: gradebook.Gradebook
    summary: str
    elapsed_s: float
    warning: str = ""

    @property
    def infrastructure_failures(self) -> list[Graded]:
        """Submissions the grader itself could not run (not the submission's fault)."""
        return [g for g in self.graded if g.outcome.kind == OutcomeKind.NOT_STARTED]


def load_tutorial(name: str, paths: Sequence[Path]) -> tuple[TutorialSource, Tutorial]:
    """The tutorial to grade with; a usage error when it cannot be graded automatically."""
    source = get_tutorial(name, (*paths, BUNDLED_ROOT))
    tutorial = parse_tutorial(source.document, name)
    if tutorial.metadata.validation_method is not ValidationMethod.AUTOMATED:
        raise usage_error(f"tutorial {name} has no automated checks", path=tutorial.path)
    return source, tutorial


def check_submissions_exist(paths: Sequence[Path]) -> None:
    """A usage error naming every path given that does not exist (a glob that matched none)."""
    missing = [path for path in paths if not path.exists()]
    if not missing:
        return
    lines = []
    for path in missing:
        pattern = any(char in str(path) for char in "*?[")
        why = "a shell pattern that matched nothing" if pattern else "no such file or folder"
        lines.append(f"  {path}: {why}")
    raise usage_error(
        f"{len(missing)} submission path(s) do not exist:\n" + "\n".join(lines) + "\n"
        "Check the paths (or the pattern) given to grade; nothing was graded."
    )


def assign_jobs(paths: Sequence[Path]) -> list[Job]:
    """Jobs sorted by submission id; ids made unique (``alice``, ``alice-2``) in that order."""
    names = [archive.submission_id(path) for path in paths]
    named = sorted(
        (_qualified(path) if names.count(name) > 1 else name, str(path), path)
        for name, path in zip(names, paths, strict=True)
    )
    jobs, seen = [], set()
    for index, (ident, _, path) in enumerate(named):
        unique, number = ident, 1
        while unique in seen:
            number += 1
            unique = f"{ident}-{number}"
        seen.add(unique)
        jobs.append(Job(index, path, unique))
    return jobs


def _qualified(path: Path) -> str:
    """``exercises-caching``: a name shared by several submissions, with its folder's name."""
    parent = path.resolve().parent.name
    return f"{parent}-{archive.submission_id(path)}" if parent else archive.submission_id(path)


def select_shard(jobs: Sequence[Job], shard: tuple[int, int] | None) -> list[Job]:
    """The I-th of N deterministic shares (1-based), round robin over the sorted jobs."""
    if shard is None:
        return list(jobs)
    index, count = shard
    return [job for position, job in enumerate(jobs) if position % count == index - 1]


def feed_archive(
    source: TutorialSource,
    reference: Path | None = None,
    tables: Mapping[str, bytes] | None = None,
    bugs: Mapping[str, bytes] | None = None,
) -> bytes:
    """The tutorial's files, paths relative to its tutorials folder, as an uncompressed tar.

    With ``reference``, the reference solution's files too, under :data:`FED_REFERENCE`;
    hypothesis' Unicode ``tables`` under :data:`FED_HYPOTHESIS`; the ``bugs`` folder's
    files (:func:`built_bugs`) under :data:`FED_BUGS`.
    """
    root = source.directory.parent
    files = [root / "__init__.py"] if (root / "__init__.py").is_file() else []
    files += _files_in(source.directory)
    names = [str(path.relative_to(root)) for path in files]
    if reference is not None:
        fed = _files_in(reference)
        files += fed
        names += [f"{FED_REFERENCE}/{source.id}/{path.relative_to(reference)}" for path in fed]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, name in zip(files, names, strict=True):
            info = tar.gettarinfo(str(path), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o644
            with path.open("rb") as stream_:
                tar.addfile(info, stream_)
        generated = [(FED_HYPOTHESIS, tables or {}), (FED_BUGS, bugs or {})]
        for place, contents in generated:
            for name, content in contents.items():
                info = tarfile.TarInfo(f"{place}/{name}")
                info.size, info.mode = len(content), 0o644
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def built_bugs(source: TutorialSource, tutorial: Tutorial, folder: Path) -> dict[str, bytes]:
    """The tutorial's bug modules, built once for the batch, as a kept-runs folder's files.

    Every submission's child would build the same ones (they depend on the tutorial
    alone): about 0.1 s of CPU each. Fed to it, they are what it finds kept; a child
    whose tutorial builds other ones (another key) builds its own. Empty when the
    tutorial has none or they cannot be built (the child then says why).
    """
    from pytest_tutorial.learner_run_cache import RunCache
    from pytest_tutorial.tutorial_bugs import bug_implementations

    kept = RunCache(folder)
    bugs, problem = bug_implementations(source.directory, tutorial, kept)
    if problem or not bugs:
        return {}
    return {path.name: path.read_bytes() for path in sorted(folder.glob("bugs-*.json"))}


def _files_in(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.rglob("*") if path.is_file() and "__pycache__" not in path.parts
    )


def collect_specs(
    tutorial: Tutorial, source: TutorialSource, paths: Sequence[Path], workdir: Path
) -> list[CheckSpec]:
    """The trusted list of checks, collected in a child that loads no submission."""
    token = secrets.token_hex(16)
    stream_read, stream_write = os.pipe()
    token_read, token_write = os.pipe()
    os.write(token_write, token.encode())
    os.close(token_write)
    scratch = workdir / "collect"
    scratch.mkdir(parents=True)
    args = ChildArgs(
        stream_fd=stream_write,
        token_fd=token_read,
        tutorial=tutorial.id,
        tutorial_dir=source.directory,
        scratch=scratch,
        mode=ChildMode.COLLECT,
        tutorial_paths=tuple(paths),
    ).to_argv()
    with os.fdopen(stream_read, "rb") as reader:
        process = subprocess.Popen(
            [*sandbox.child_interpreter(), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(stream_write, token_read),
            env=sandbox.child_environment(scratch, f"collect-{token[:8]}"),
            cwd=scratch,
        )
        os.close(stream_write)
        os.close(token_read)
        try:
            output, _ = process.communicate(timeout=COLLECT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        events = stream.StreamDecoder(token).feed(reader.read())
    collected = next((e for e in events if e.get("event") == stream.COLLECTED), None)
    specs = results.specs_from_event(collected or {}, tutorial)
    if not specs:
        text = output.decode(errors="replace").strip()[-3000:]
        raise usage_error(f"could not collect the checks of tutorial {tutorial.id}:\n{text}")
    return specs


def _book(
    plan: Plan, rows: list[dict[str, Any]], shard: tuple[int, int] | None
) -> gradebook.Gradebook:
    """An empty-or-not gradebook with the tutorial's automated items as columns."""
    items = []
    for item in plan.tutorial.checklist:
        points = [spec.points for spec in plan.specs if spec.item_id == item.id]
        if points:
            items.append({"id": item.id, "text": item.text, "max_points": sum(points)})
    metadata = plan.tutorial.metadata
    return gradebook.Gradebook(
        tutorial={"id": plan.tutorial.id, "title": metadata.title, "version": metadata.version},
        items=items,
        max_points=sum(spec.points for spec in plan.specs),
        rows=list(rows),
        shard={"index": shard[0], "count": shard[1]} if shard else None,
        sandbox=plan.box.kind,
    )


def run(
    options: Options,
    *,
    on_ready: Callable[[sandbox.Sandbox, int], None] = lambda box, total: None,
    on_start: Callable[[Job], None] = lambda job: None,
    on_finish: Callable[[Graded], None] = lambda graded: None,
) -> Batch:
    """Grade the batch (or this shard of it) and write every output under ``options.out``."""
    started = time.monotonic()
    check_submissions_exist(options.submissions)
    paths = tuple(path.resolve() for path in options.tutorial_paths)
    source, tutorial = load_tutorial(options.tutorial, paths)
    jobs = select_shard(assign_jobs(options.submissions), options.shard)
    out = options.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="pytest-tutorial-grade-"))
    os.chmod(workdir, 0o755)
    box: sandbox.Sandbox | None = None
    plan: Plan | None = None
    unpacking: unpacker.WarmUnpacker | None = None
    try:
        import_for_tables()
        with ThreadPoolExecutor(max_workers=2) as beside:
            # while the checks are collected
            building = beside.submit(shared_unicode_tables, user_cache_dir())
            starting = beside.submit(unpacker.WarmUnpacker) if options.warm else None
            try:
                specs = collect_specs(tutorial, source, paths, workdir)
                hidden = hidden_roots(source, paths)
                box = sandbox.detect(options.mode, options.jobs, hidden)
                tables = building.result()
            finally:  # closed with the batch, whatever happens
                unpacking = starting.result() if starting is not None else None
        reference = reference_of(source) if options.isolation == "worker" else None
        in_workers = options.isolation == "worker" and box.isolated  # their child uses them
        bugs = built_bugs(source, tutorial, workdir / "bugs") if in_workers else {}
        plan = Plan(
            tutorial=tutorial,
            source=source,
            tutorial_paths=paths,
            specs=tuple(specs),
            limits=options.limits,
            box=box,
            workdir=workdir,
            out=out,
            feed=feed_archive(source, reference, tables, bugs) if box.isolated else b"",
            check_timeout=options.check_timeout,
            keyword=options.keyword,
            keep_workdirs=options.keep_workdirs,
            run_id=options.run_id,
            isolation=options.isolation,
            reference=reference,
            hypothesis_tables=tables,
            slots=_slot_servers(options, box, hidden, tutorial, workdir),
            unpacking=unpacking,
        )
        on_ready(box, len(jobs))
        graded = _grade_all(plan, jobs, max(options.jobs, 1), on_start, on_finish)
    finally:
        if plan is not None and plan.slots is not None:
            plan.slots.close()
        if unpacking is not None:
            unpacking.close()
        if box is not None:
            box.release()
        if not options.keep_workdirs:
            archive.remove_tree(workdir)
    rows = [
        gradebook.row(g.report, float(g.report["grading"]["duration_s"]), g.warnings)
        for g in graded
    ]
    book = _book(plan, rows, options.shard)
    elapsed = time.monotonic() - started
    summary = book.write(out, elapsed_s=elapsed)
    return Batch(graded, book, summary, elapsed, plan.box.warning)


def _slot_servers(
    options: Options,
    box: sandbox.Sandbox,
    hidden: Sequence[Path],
    tutorial: Tutorial,
    workdir: Path,
) -> warm_slots.SlotServers | None:
    """Warm servers for the job slots, where children may be forked (:mod:`.warm_slots`)."""
    bwrap = box.bwrap
    if not options.warm or bwrap is None:
        return None
    if not box.uids:  # the learner's processes would share the warm process's uid
        return None
    scratch_mb = options.limits.scratch_mb
    environment = sandbox.child_environment(sandbox.SCRATCH, options.run_id)
    environment["TMPDIR"] = str(sandbox.SCRATCH)  # the runs' scratch folders: the slot's tmpfs
    validation = tutorial.validation
    return warm_slots.SlotServers(
        workdir,
        lambda folder: warm_slots.slot_prefix(
            bwrap, hidden=hidden, scratch_mb=scratch_mb, folder=folder
        ),
        environment,
        aws=validation is not None and validation.aws is not None,
    )


def _grade_all(
    plan: Plan,
    jobs: Sequence[Job],
    workers: int,
    on_start: Callable[[Job], None],
    on_finish: Callable[[Graded], None],
) -> list[Graded]:
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(workers):
        slots.put(slot)

    def work(job: Job) -> Graded:
        slot = slots.get()
        try:
            on_start(job)
            graded = grade(plan, job, slot)
        finally:
            slots.put(slot)
        return _written(plan, graded)

    graded: list[Graded] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grade") as pool:
        futures = {pool.submit(work, job): job for job in jobs}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as error:  # a bug of the grader's: its exit status says so
                detail = f"internal grader error: {type(error).__name__}: {error}"
                result = _written(
                    plan, fallback(plan, futures[future], OutcomeKind.NOT_STARTED, detail)
                )
            graded.append(result)
            with contextlib.suppress(Exception):
                on_finish(result)
    return sorted(graded, key=lambda g: g.job.index)


def _written(plan: Plan, graded: Graded) -> Graded:
    """``graded`` with its files written; or, when they cannot be, a minimal ``crashed`` one."""
    folder = outputs.submission_folder(plan.out, graded.job.ident)
    try:
        outputs.write_submission(folder, graded.report, graded.output, graded.output_truncated)
        return graded
    except Exception as error:
        detail = (
            f"its report could not be written ({type(error).__name__}: {error}); this minimal "
            "report stands for it, with no check verdict"
        )
    minimal = fallback(plan, graded.job, OutcomeKind.CRASHED, detail)
    try:
        outputs.write_submission(folder, minimal.report, b"", False)
    except Exception as error:
        minimal.report["grading"]["detail"] += f"; nor could the minimal one be ({error!r})"
    return minimal
