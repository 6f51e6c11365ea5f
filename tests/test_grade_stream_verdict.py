"""The grading child's verdict of a check: judged from what the check raised.

The session's own label of a check may only turn one verdict of 0 points into another (a
failure the worker's time limit caused reads as a timeout); it can never make a check pass.
"""

from __future__ import annotations

import os

from pytest_tutorial.grading.stream import Streamer, _Check


def _streamer() -> Streamer:
    read, write = os.pipe()
    os.close(read)
    return Streamer(write, "token")


def test_a_failure_the_session_judged_a_timeout_is_a_timeout() -> None:
    check = _Check(started=0.0, errors={"call": RuntimeError("replayed differently")})
    check.timed_out = True
    assert _streamer()._verdict(check)[0] == "timeout"


def test_without_that_label_a_failure_stays_a_failure() -> None:
    check = _Check(started=0.0, errors={"call": RuntimeError("wrong")})
    assert _streamer()._verdict(check)[0] == "failed"


def test_the_label_never_makes_a_check_pass_or_fail() -> None:
    passed = _Check(started=0.0, body_finished=True, timed_out=True)
    assert _streamer()._verdict(passed)[0] == "passed"
    unfinished = _Check(started=0.0, timed_out=True)
    assert _streamer()._verdict(unfinished)[0] == "failed"
