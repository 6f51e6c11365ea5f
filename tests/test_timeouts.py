"""The per-check time limit stops a check, also one that catches the first stop."""

from __future__ import annotations

import signal
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_tutorial.timeouts import CheckTimeout, can_enforce, time_limit, timeout_in

pytestmark = pytest.mark.skipif(not can_enforce(), reason="needs SIGALRM in the main thread")


def test_a_block_past_its_limit_raises_check_timeout() -> None:
    with pytest.raises(CheckTimeout) as stopped, time_limit(0.2):
        time.sleep(5)
    assert stopped.value.seconds == 0.2


def test_a_property_that_hangs_is_not_shrunk_past_the_limit() -> None:
    # hypothesis catches pytest's Failed (CheckTimeout is one) as a failing example and
    # goes on shrinking, where every example would run into the same slow path: the limit
    # must keep firing until the block is left.
    examples = 0

    @settings(max_examples=50, deadline=None, database=None)
    @given(st.lists(st.integers(), min_size=5))
    def slow_property(values: list[int]) -> None:
        nonlocal examples
        examples += 1
        time.sleep(0.3)
        raise AssertionError(f"fails for {values}")

    with pytest.raises(CheckTimeout) as stopped, time_limit(0.5):
        slow_property()
    assert stopped.value.seconds == 0.5
    # Two examples fit in the limit; the next alarm, no failure to hypothesis, leaves the
    # check at once. A single alarm let hypothesis shrink through a dozen examples or more.
    assert examples <= 4


def test_an_error_code_makes_of_the_alarm_is_reported_as_the_timeout() -> None:
    # An alarm can land inside a library's bookkeeping: hypothesis, interrupted while it
    # replays an example, reports FlakyStrategyDefinition, which says nothing of the limit.
    def replaying() -> None:
        try:
            time.sleep(5)
        except CheckTimeout as alarm:
            raise RuntimeError("inconsistent data generation") from alarm

    with pytest.raises(CheckTimeout) as stopped, time_limit(0.05):
        replaying()
    assert stopped.value.seconds == 0.05
    assert isinstance(stopped.value.__cause__, RuntimeError)


def test_an_interrupt_after_the_limit_fired_still_stops_the_run() -> None:
    def interrupted() -> None:
        try:
            time.sleep(5)
        except CheckTimeout:
            raise KeyboardInterrupt from None

    with pytest.raises(KeyboardInterrupt), time_limit(0.05):
        interrupted()


def test_an_error_before_the_limit_is_left_as_it_is() -> None:
    with pytest.raises(RuntimeError, match="the check's own"), time_limit(5.0):
        raise RuntimeError("the check's own")


def test_a_timeout_inside_a_group_is_found() -> None:
    # hypothesis reports an example it could not replay alike as a FlakyFailure group,
    # holding a BaseException as the cause of a wrapper
    wrapper = Exception("wrapped")
    wrapper.__cause__ = CheckTimeout(3)
    group = ExceptionGroup("inconsistent", [AssertionError("first"), wrapper])
    assert timeout_in(group) is wrapper.__cause__
    assert timeout_in(ExceptionGroup("other", [AssertionError("first")])) is None


def test_a_block_that_ends_in_time_is_not_interrupted_and_leaves_no_timer() -> None:
    before = signal.getsignal(signal.SIGALRM)
    with time_limit(60.0):
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0  # armed inside the block
        finished = True
    assert finished
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # nothing can fire later
    assert signal.getsignal(signal.SIGALRM) is before
