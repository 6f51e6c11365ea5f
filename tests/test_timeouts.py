"""The per-check time limit stops a check, also one that catches the first stop."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_tutorial.timeouts import CheckTimeout, can_enforce, time_limit, timeout_in

pytestmark = pytest.mark.skipif(not can_enforce(), reason="needs SIGALRM in the main thread")


def test_a_block_past_its_limit_raises_check_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(CheckTimeout), time_limit(0.2):
        time.sleep(5)
    assert time.monotonic() - started < 2


def test_a_property_that_hangs_is_not_shrunk_past_the_limit() -> None:
    # hypothesis catches pytest's Failed (CheckTimeout is one) as a failing example and
    # goes on shrinking, where every example would run into the same slow path: the limit
    # must keep firing until the block is left.
    @settings(max_examples=50, deadline=None, database=None)
    @given(st.lists(st.integers(), min_size=5))
    def slow_property(values: list[int]) -> None:
        time.sleep(0.3)
        raise AssertionError(f"fails for {values}")

    started = time.monotonic()
    with pytest.raises(BaseException) as stopped, time_limit(0.5):
        slow_property()
    assert time.monotonic() - started < 2
    # hypothesis may report the replay as a group of failures; the limit is among them
    assert timeout_in(stopped.value) is not None, repr(stopped.value)


def test_a_block_that_ends_in_time_is_not_interrupted() -> None:
    with time_limit(1.0):
        time.sleep(0.05)
    time.sleep(0.2)  # the timer is off: nothing fires after the block
