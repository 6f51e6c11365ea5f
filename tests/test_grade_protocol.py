"""The grading child's command line round-trips through ChildArgs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tutorial.grading.protocol import ChildArgs, ChildMode
from pytest_tutorial.grading.sandbox import Limits


def test_every_field_survives_the_round_trip() -> None:
    args = ChildArgs(
        stream_fd=5,
        token_fd=6,
        tutorial="caching",
        tutorial_dir=Path("/t/caching"),
        scratch=Path("/scratch"),
        mode=ChildMode.GRADE,
        tutorial_paths=(Path("/packs/a"), Path("/packs/b")),
        feed_fd=7,
        feed_root=Path("/t"),
        submission=Path("/submission"),
        limits=Limits(wall_s=12.5, memory_mb=512),
        drop_uid=4242,
        check_timeout=2.5,
        keyword="core and not slow",
        run_id="run-1",
        isolation="process",
        reference=Path("/t/.reference/caching"),
    )
    assert ChildArgs.from_argv(args.to_argv()) == args


def test_the_defaults_survive_too() -> None:
    args = ChildArgs(5, 6, "caching", Path("/t"), Path("/s"), mode=ChildMode.COLLECT)
    assert ChildArgs.from_argv(args.to_argv()) == args


def test_an_unknown_mode_is_refused() -> None:
    argv = ChildArgs(5, 6, "caching", Path("/t"), Path("/s")).to_argv()
    argv[argv.index("--mode") + 1] = "forge"
    with pytest.raises(SystemExit):
        ChildArgs.from_argv(argv)
