"""The checks' room on CPython's frame stack: no memory mapped and unmapped call after call."""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_tutorial.stack_room import ROOM_LOCALS, in_room

CALLS = 2000


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def leaf(first: int, second: int, third: int, fourth: int) -> int:
    return first + second + third + fourth


def descend(depth: int, work: Callable[[], None]) -> None:
    if depth == 0:
        work()
    else:
        descend(depth - 1, work)


def many_calls() -> None:
    for _ in range(CALLS):
        leaf(1, 2, 3, 4)


def faults_of_calls_at(depth: int, start: Callable[[Callable[[], None]], object]) -> int:
    """Minor page faults while ``CALLS`` calls are made ``depth`` frames below ``start``."""
    before = minor_faults()
    start(lambda: descend(depth, many_calls))
    return minor_faults() - before


def test_in_room_returns_what_the_call_returns_and_lets_its_errors_through() -> None:
    assert in_room(lambda: 42) == 42

    def fails() -> None:
        raise KeyError("from the call")

    with pytest.raises(KeyError, match="from the call"):
        in_room(fails)


def test_the_call_runs_below_a_frame_too_large_for_a_16_kib_chunk() -> None:
    def largest_frame_above() -> int:
        frame = sys._getframe()
        largest = 0
        while frame is not None:
            largest = max(largest, frame.f_code.co_nlocals)
            frame = frame.f_back  # type: ignore[assignment]
        return largest

    if sys.implementation.name != "cpython":
        pytest.skip("only CPython keeps its frames in chunks")
    assert largest_frame_above() < ROOM_LOCALS
    assert in_room(largest_frame_above) > ROOM_LOCALS


def test_calls_crossing_a_chunks_end_stop_mapping_memory_in_the_room() -> None:
    def plainly(call: Callable[[], None]) -> None:
        call()

    thrashing = [depth for depth in range(400) if faults_of_calls_at(depth, plainly) > CALLS / 2]
    if not thrashing:
        assert sys.version_info >= (3, 12), "no depth maps memory call after call: nothing measured"
        pytest.skip("this Python keeps a spare chunk (recent CPython 3.13 and 3.14)")
    for depth in thrashing:
        assert faults_of_calls_at(depth, in_room) < CALLS / 10, f"depth {depth}"


WHERE = """
import sys

from pytest_tutorial.stack_room import ROOM_LOCALS


def room_side():
    frame = sys._getframe()
    largest = 0
    while frame is not None:
        largest = max(largest, frame.f_code.co_nlocals)
        frame = frame.f_back
    return "inside" if largest > ROOM_LOCALS else "outside"
"""
"""A module for the inner runs: whether its caller runs below the room's frame."""

TEST_WHERE = (
    "from where import room_side\n\ndef test_where_it_runs():\n    print('ROOM:', room_side())\n"
)


ANOTHER_LOOP = (
    "import _pytest.main\n"
    "def pytest_runtestloop(session):\n"
    "    print('OWN LOOP')\n"
    "    return _pytest.main.pytest_runtestloop(session)\n"
)


@pytest.mark.parametrize(
    ("another_loop", "expected"),
    [("", ["*ROOM: inside*"]), (ANOTHER_LOOP, ["*OWN LOOP*", "*ROOM: outside*"])],
    ids=["pytests-own-loop-in-the-room", "another-plugins-loop-left-as-it-is"],
)
def test_the_loop_runs_the_tests_in_the_room_unless_another_plugin_runs_them(
    pytester: pytest.Pytester, another_loop: str, expected: list[str]
) -> None:
    pytester.makeconftest(
        "from pytest_tutorial.stack_room import RoomyTestLoop\n"
        "def pytest_configure(config):\n"
        "    config.pluginmanager.register(RoomyTestLoop())\n" + another_loop
    )
    pytester.makepyfile(where=WHERE, test_where=TEST_WHERE)
    result = pytester.runpytest_subprocess("-s", "-p", "no:tutorial", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(expected)


def test_the_tutorial_is_activated_in_the_room(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        where=WHERE,
        record_activation="import pytest_tutorial.activation\n"
        "from where import room_side\n"
        "def seen(config, name):\n"
        "    print('ACTIVATED:', room_side())\n"
        "pytest_tutorial.activation.activate = seen\n",
    )
    solution = Path(__file__).parent.parent / "reference_solutions" / "caching"
    result = pytester.runpytest_subprocess(
        "-p", "record_activation", "--tutorial=caching", f"--tutorial-solution={solution}", "-s"
    )
    result.stdout.fnmatch_lines(["*ACTIVATED: inside*"])
