"""The grading child: runs a tutorial's checks on one submission and streams the results.

Started by the parent as ``python -I -B -m pytest_tutorial.grading.child`` (inside the
sandbox when there is one). In order, before any submission code can run, it: sets its
resource limits; reads its stream token from a private pipe; unpacks the check modules
the parent feeds it (sandbox: they are nowhere else inside); copies the submission into
its scratch folder; then runs pytest in-process with plugin autoloading off, its own ini
file (``-c``), no PYTEST_ADDOPTS, and the :class:`~.stream.Streamer`. Once collection is
over it deletes the check modules. With workers (the default) it keeps its uid and never
imports the submission: the submission's code runs in workers started through a
:class:`~.learner_box.LearnerBox` (as root, under the job slot's uid), and the reference
solution the parent fed it, in a folder only its own user may enter, in a worker of its
own for the relative performance target. With ``--isolation process`` it imports the
submission itself and, when started as root, drops to its job slot's uid first.
It ends with ``os._exit`` so threads or atexit handlers the submission left cannot hang it.

``--mode collect`` only collects (the parent's trusted list of checks, no submission).
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
import tempfile
import traceback
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pytest_tutorial.discovery import CHECK_MODULE_GLOB
from pytest_tutorial.grading import sandbox, stream
from pytest_tutorial.grading.protocol import (
    FED_BUGS,
    FED_HYPOTHESIS,
    FED_REFERENCE,
    ChildArgs,
    ChildMode,
)
from pytest_tutorial.hypothesis_warmup import install_unicode_tables
from pytest_tutorial.options import HYPOTHESIS_HOME, REFERENCE_ROOT, STATE_DIR
from pytest_tutorial.warm import HYPOTHESIS_STORAGE, IGNORE_REWRITE_WARNING

if TYPE_CHECKING:
    import pytest

PLUGINS = ("pytest_tutorial.plugin", "pytest_asyncio.plugin", "_hypothesis_pytestplugin")
"""The only plugins loaded in the child: ours and those the checks need."""
HIDDEN_GLOBS = (CHECK_MODULE_GLOB, "conftest.py")
"""Files of the tutorial's folder deleted after collection (known-bad code must stay)."""


def main(argv: list[str] | None = None) -> NoReturn:
    """Run the checks; always ends the process with ``os._exit``."""
    _run(ChildArgs.from_argv(sys.argv[1:] if argv is None else argv))


def run_forked(payload: dict[str, Any]) -> int:
    """The target of a job slot's warm server (:mod:`.warm_slots`): :func:`main`, forked.

    ``payload``: ``argv`` (its descriptors numbered as the parent numbered them) and the
    ``fds`` the server received: output, stream, token and feed, in that order. The
    scratch folder is the one the server made for this run (it removes it afterwards).
    """
    from pytest_tutorial.grading.warm_slots import wipe_shared_places
    from pytest_tutorial.isolation.forked_worker import close_descriptors_but

    _output, stream_fd, token_fd, feed_fd = payload["fds"]
    # The server's own descriptors (its wake-up pipe) are not the submission's: with
    # ``--isolation process`` its code runs in this process once the checks are collected.
    close_descriptors_but((0, 1, 2, stream_fd, token_fd, feed_fd))
    args = ChildArgs.from_argv(list(payload["argv"]))
    wipe_shared_places(args.drop_uid if os.geteuid() == 0 else None)
    scratch = Path(os.environ[HYPOTHESIS_STORAGE])
    os.chmod(scratch.parent, 0o711)  # the slot's learner uid may pass, never list the runs
    os.chmod(scratch, 0o755)
    os.chdir(scratch)
    os.environ.update({"HOME": str(scratch / "home"), "TMPDIR": str(scratch / "tmp")})
    tempfile.tempdir = None  # the server's, found again from this environment
    args = replace(
        args,
        stream_fd=stream_fd,
        token_fd=token_fd,
        feed_fd=feed_fd,
        scratch=scratch,
    )
    _run(args)


def _run(args: ChildArgs) -> NoReturn:
    os.umask(0o022)
    token = _read_all(args.token_fd).decode("ascii", errors="replace")
    streamer = stream.Streamer(args.stream_fd, token, after_collection=lambda: _seal(args))
    try:
        if args.limits is not None:
            sandbox.apply_rlimits(args.limits, processes=_nproc_binds(args))
        sandbox.no_new_privileges()
        if args.feed_fd is not None and args.feed_root is not None:
            _unpack_checks(args.feed_fd, args.feed_root)
            _keep_private(args.feed_root / FED_REFERENCE)
            _keep_private(args.feed_root / FED_BUGS)
            install_unicode_tables(
                args.feed_root / FED_HYPOTHESIS, args.scratch / STATE_DIR / HYPOTHESIS_HOME
            )
        solution = _prepare_scratch(args)
        streamer.emit(stream.HELLO, pid=os.getpid(), uid=os.geteuid())
        import pytest

        plugins: list[object] = [streamer]
        if args.in_workers and args.mode is ChildMode.GRADE:
            plugins.append(_LearnerProcesses(args))
        if _uid_taken_at_seal(args) is not None:
            plugins.append(_RootUntilSealed())
        code = pytest.main(_pytest_args(args, solution), plugins=plugins)
        streamer.emit(stream.DONE, exit_code=int(code), scratch_free=_free_bytes(args.scratch))
    except BaseException:
        streamer.emit(
            stream.FATAL,
            traceback=traceback.format_exc()[-4000:],
            scratch_free=_free_bytes(args.scratch),
        )
        sys.stderr.flush()
        os._exit(3)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _nproc_binds(args: ChildArgs) -> bool:
    """RLIMIT_NPROC counts per uid: set it only for the slot's own uid or a non-root user.

    With workers the child keeps its uid (root's, as root): the workers get the limit.
    """
    if args.in_workers:
        return os.geteuid() != 0
    return args.drop_uid is not None or os.geteuid() != 0


def _free_bytes(folder: Path) -> int | None:
    """Bytes free in the scratch folder (a full tmpfs explains many failures)."""
    try:
        figures = os.statvfs(folder)
    except OSError:
        return None
    return figures.f_bavail * figures.f_frsize


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _unpack_checks(fd: int, root: Path) -> None:
    """Unpack the tutorial's files (a tar the parent wrote to a memfd) into ``root``."""
    with os.fdopen(fd, "rb") as feed, tarfile.open(fileobj=feed, mode="r:") as archive:
        archive.extractall(root, filter="data")


def _keep_private(folder: Path) -> None:
    """Only the child's own user may enter ``folder`` (the fed reference solution)."""
    if folder.is_dir():
        os.chmod(folder, 0o700)


def _prepare_scratch(args: ChildArgs) -> Path:
    """Home, temp and a writable copy of the submission under the scratch folder."""
    scratch: Path = args.scratch
    for name in ("home", "tmp"):
        (scratch / name).mkdir(parents=True, exist_ok=True)
    solution = scratch / "submission"
    if args.mode is ChildMode.COLLECT or args.submission is None:
        solution.mkdir(exist_ok=True)
    elif args.submission.resolve() != solution.resolve():
        shutil.copytree(args.submission, solution, symlinks=True, dirs_exist_ok=True)
    ini = ["[pytest]", "asyncio_default_fixture_loop_scope = function"]
    if args.tutorial_paths:
        ini.append("tutorial_paths =")
        ini += [f"    {path}" for path in args.tutorial_paths]
    (scratch / "pytest.ini").write_text("\n".join(ini) + "\n", encoding="utf-8")
    return solution


def pytest_set_up(scratch: Path) -> list[str]:
    """A child's pytest arguments before the tutorial's: its ini, rootdir, plugins, output.

    A job slot's warm server makes a run with them once (:mod:`.warm_slots`).
    """
    command = ["-c", str(scratch / "pytest.ini"), "--rootdir", str(scratch)]
    command += ["--disable-plugin-autoload", "-p", "no:cacheprovider", "-p", "no:stepwise"]
    for plugin in PLUGINS:
        command += ["-p", plugin]
    return [*command, "-q", "--no-header", "--color=no"]


def _pytest_args(args: ChildArgs, solution: Path) -> list[str]:
    scratch: Path = args.scratch
    command = [
        *pytest_set_up(scratch),
        *IGNORE_REWRITE_WARNING,  # forked from a warm server: the plugins were imported there
        f"--tutorial={args.tutorial}",
        f"--tutorial-isolation={args.isolation}",
        f"--tutorial-solution={solution}",
        f"--tutorial-report={scratch / 'child-report.json'}",
        "--tutorial-fresh-runs",  # a submission must not bring its own results
        "-rN",
    ]
    if args.check_timeout is not None:
        command.append(f"--tutorial-timeout={args.check_timeout}")
    if args.keyword:
        command += ["-k", args.keyword]
    if args.mode is ChildMode.COLLECT:
        command.append("--collect-only")
    return command


def _seal(args: ChildArgs) -> None:
    """After collection: delete the check modules, then give up root (see module docstring)."""
    if args.mode is not ChildMode.GRADE:
        return
    if args.feed_root is not None:
        directory: Path = args.tutorial_dir
        for pattern in HIDDEN_GLOBS:
            for path in directory.glob(pattern):
                path.unlink(missing_ok=True)
        for cache in [*args.feed_root.rglob("__pycache__")]:
            shutil.rmtree(cache, ignore_errors=True)
    uid = _uid_taken_at_seal(args)
    if uid is not None:
        # Deepest first: once a private folder is the uid's, root can no longer enter it.
        kept = args.scratch / REFERENCE_ROOT  # read-only inside the sandbox, on purpose
        paths = [args.scratch, *args.scratch.rglob("*")]
        for path in sorted(paths, key=lambda p: len(p.parts), reverse=True):
            if path != kept and not path.is_relative_to(kept):
                os.lchown(path, uid, uid)
        sandbox.drop_to(uid)


def _uid_taken_at_seal(args: ChildArgs) -> int | None:
    """The uid the child gives up root for at the seal, or None when it keeps its uid.

    Only a child that runs the submission in its own process, as root, drops it there.
    """
    if args.mode is not ChildMode.GRADE or args.in_workers or os.geteuid() != 0:
        return None
    return args.drop_uid


class _RootUntilSealed:
    """A plugin of the child that keeps root until the checks are collected (:func:`_seal`).

    The learner's test runs fork from a warm server that would otherwise start while pytest
    configures: started as root it would run the learner's tests as root, and root in the
    sandbox cannot write the runs' folders once they are the slot uid's, so every run would
    fail. The server starts with the runs instead, after the seal.
    """

    seals_after_collection = True  # isolation.launcher.SEALS_AFTER_COLLECTION


class _LearnerProcesses:
    """A plugin of the child with workers: the session starts learner code through a box.

    The child keeps its uid and never imports the submission; every process that runs the
    submission's code (its workers, its test runs) is started limited and, as root, under
    the job slot's uid, so it cannot reach the child's memory, files or result stream.
    """

    provides_launcher = True  # isolation.launcher.PROVIDES_LAUNCHER

    def __init__(self, args: ChildArgs) -> None:
        from pytest_tutorial.grading.learner_box import LearnerBox

        self.box = LearnerBox(
            limits=args.limits or sandbox.Limits(),
            uid=args.drop_uid if os.geteuid() == 0 else None,
            marker=args.run_id,
            slot_socket=args.slot_socket,
        )
        self.reference = args.reference
        fed_bugs = None if args.feed_root is None else args.feed_root / FED_BUGS
        self.bugs = fed_bugs if fed_bugs is not None and fed_bugs.is_dir() else None

    def pytest_cmdline_main(self, config: pytest.Config) -> None:
        """Put the box where the session looks for a launcher; the grader's reference and bugs.

        Before any plugin is configured (the tutorial's activation asks for a launcher): pytest
        calls this before its own ``pytest_cmdline_main``, which configures and runs the session.
        """
        from pytest_tutorial.isolation.launcher import (
            GRADING_BUGS_KEY,
            GRADING_REFERENCE_KEY,
            LAUNCHER_KEY,
        )

        config.stash[LAUNCHER_KEY] = self.box
        if self.reference is not None:
            config.stash[GRADING_REFERENCE_KEY] = self.reference
        if self.bugs is not None:
            config.stash[GRADING_BUGS_KEY] = self.bugs


if __name__ == "__main__":
    main()
