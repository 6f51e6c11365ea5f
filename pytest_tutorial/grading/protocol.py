"""The grading child's command line, written and read in one place.

The parent (:mod:`.batch` for the trusted collection, :mod:`.submission` for a graded
run) builds a :class:`ChildArgs` and passes :meth:`ChildArgs.to_argv` to
``python -m pytest_tutorial.grading.child``, which reads it back with
:meth:`ChildArgs.from_argv`. Only descriptors and paths cross: the token and the checks
come through the file descriptors named here.
"""

from __future__ import annotations

import argparse
import enum
from dataclasses import dataclass
from pathlib import Path

from .sandbox import CHILD_MODULE, Limits

FED_REFERENCE = ".reference"
"""Where, under the feed's root, a sandboxed child gets the reference solution (worker mode),
in a folder only the child's own user may enter."""
FED_BUGS = ".bugs"
"""Where, under the feed's root, a sandboxed child gets the tutorial's bug modules, built
once for the batch (:mod:`pytest_tutorial.tutorial_bugs`), in a folder only its user may
enter."""
FED_HYPOTHESIS = ".hypothesis-tables"
"""Where, under the feed's root, a sandboxed child gets hypothesis' Unicode tables
(:mod:`pytest_tutorial.hypothesis_warmup`), for its own hypothesis storage folder."""


class ChildMode(enum.StrEnum):
    """What the child does: grade a submission, or only collect the checks (no submission)."""

    GRADE = "grade"
    COLLECT = "collect"


@dataclass(frozen=True)
class ChildArgs:
    """Everything the grading child is told on its command line."""

    stream_fd: int
    """Where the child writes its result stream (:mod:`.stream`)."""
    token_fd: int
    """Where the child reads the stream's token, once, at start-up."""
    tutorial: str
    tutorial_dir: Path
    scratch: Path
    """The child's writable folder (inside bubblewrap: the sandbox's scratch mount)."""
    mode: ChildMode = ChildMode.GRADE
    tutorial_paths: tuple[Path, ...] = ()
    """``--tutorial-path`` folders of the grader's run (packs, course repositories)."""
    feed_fd: int | None = None
    """A memfd holding the checks as a tar archive (bubblewrap hides the originals)."""
    feed_root: Path | None = None
    """Where the fed checks are unpacked (the tutorial folder's parent, as the grader sees it)."""
    submission: Path | None = None
    limits: Limits | None = None
    drop_uid: int | None = None
    check_timeout: float | None = None
    keyword: str | None = None
    run_id: str = ""
    """Marks every process of this run in its environment, so cleanup can find them all."""
    isolation: str = "worker"
    """``--tutorial-isolation`` of the run: ``worker`` keeps the learner's code out of the
    child, in processes of the job slot's uid (:mod:`pytest_tutorial.grading.learner_box`)."""

    reference: Path | None = None
    """The reference solution the child compares performance with (worker mode only: it
    runs in a worker of its own, which the submission's code cannot reach)."""
    slot_socket: Path | None = None
    """The socket of the job slot's warm server that forked this child, which forks the
    server of the submission's test runs too (:mod:`.learner_fork`); None: start it cold."""

    @property
    def in_workers(self) -> bool:
        """Whether the learner's code runs in workers, not in the child."""
        return self.isolation == "worker"

    def to_argv(self) -> list[str]:
        """The child's arguments, for :meth:`from_argv`."""
        argv = ["--mode", self.mode.value, "--stream-fd", str(self.stream_fd)]
        argv += ["--token-fd", str(self.token_fd), "--tutorial", self.tutorial]
        argv += ["--tutorial-dir", str(self.tutorial_dir), "--scratch", str(self.scratch)]
        for path in self.tutorial_paths:
            argv += ["--tutorial-path", str(path)]
        optional = {
            "--feed-fd": self.feed_fd,
            "--feed-root": self.feed_root,
            "--submission": self.submission,
            "--limits": self.limits.to_json() if self.limits is not None else None,
            "--drop-uid": self.drop_uid,
            "--check-timeout": (
                f"{self.check_timeout:g}" if self.check_timeout is not None else None
            ),
            "--keyword": self.keyword,
            "--run-id": self.run_id or None,
            "--isolation": self.isolation,
            "--reference": self.reference,
            "--slot-socket": self.slot_socket,
        }
        for option, value in optional.items():
            if value is not None:
                argv += [option, str(value)]
        return argv

    @classmethod
    def from_argv(cls, argv: list[str]) -> ChildArgs:
        """Read :meth:`to_argv`'s arguments (argparse exits with status 2 on anything else)."""
        parser = argparse.ArgumentParser(prog=CHILD_MODULE)
        parser.add_argument("--mode", type=ChildMode, default=ChildMode.GRADE)
        parser.add_argument("--stream-fd", type=int, required=True)
        parser.add_argument("--token-fd", type=int, required=True)
        parser.add_argument("--tutorial", required=True)
        parser.add_argument("--tutorial-dir", type=Path, required=True)
        parser.add_argument("--scratch", type=Path, required=True)
        parser.add_argument("--tutorial-path", type=Path, action="append", default=[])
        parser.add_argument("--feed-fd", type=int)
        parser.add_argument("--feed-root", type=Path)
        parser.add_argument("--submission", type=Path)
        parser.add_argument("--limits", type=Limits.from_json)
        parser.add_argument("--drop-uid", type=int)
        parser.add_argument("--check-timeout", type=float)
        parser.add_argument("--keyword")
        parser.add_argument("--run-id", default="")
        parser.add_argument("--isolation", choices=("worker", "process"), default="worker")
        parser.add_argument("--reference", type=Path)
        parser.add_argument("--slot-socket", type=Path)
        parsed = vars(parser.parse_args(argv))
        parsed["tutorial_paths"] = tuple(parsed.pop("tutorial_path"))
        return cls(**parsed)
