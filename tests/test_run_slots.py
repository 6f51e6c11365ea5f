"""When a run of the learner's tests may start, and at which priority."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pytest_tutorial.run_slots import RunSlots, idle_core


def loadavg(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "loadavg"
    path.write_text(text, encoding="ascii")
    return path


@pytest.mark.parametrize(
    ("runnable", "idle"),
    [("1/200", True), ("2/200", True), ("3/200", False), ("9/200", False)],
)
def test_a_core_is_idle_when_fewer_tasks_than_cores_are_runnable_besides_the_reader(
    tmp_path: Path, runnable: str, idle: bool
) -> None:
    path = loadavg(tmp_path, f"0.50 0.40 0.30 {runnable} 12345\n")
    assert idle_core(2, path) is idle


@pytest.mark.parametrize("text", ["", "0.5 0.4 0.3\n", "0.5 0.4 0.3 x/9 1\n"])
def test_no_core_is_idle_when_the_count_cannot_be_read(tmp_path: Path, text: str) -> None:
    assert not idle_core(2, loadavg(tmp_path, text))
    assert not idle_core(2, tmp_path / "missing")


def most_at_once(slots: RunSlots, runs: int) -> tuple[int, list[bool]]:
    """Start ``runs`` threads that each hold a slot a moment; the peak and who was further."""
    running = peak = 0
    further: list[bool] = []
    lock = threading.Lock()

    def run() -> None:
        nonlocal running, peak
        with slots.slot() as beyond:
            with lock:
                running += 1
                peak = max(peak, running)
                further.append(beyond)
            time.sleep(0.2)  # long enough for every thread to have started
            with lock:
                running -= 1

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return peak, further


def test_one_run_per_core_while_no_core_is_idle() -> None:
    peak, further = most_at_once(RunSlots(2, has_idle_core=lambda cores: False), 6)
    assert peak == 2
    assert not any(further)


def test_up_to_two_runs_per_core_while_a_core_is_idle() -> None:
    peak, further = most_at_once(RunSlots(2, has_idle_core=lambda cores: True), 8)
    assert peak == 4
    assert further.count(True) >= 2  # the third and fourth at least


def waiting_in_rank(
    slots: RunSlots, ranks: list[int], started: list[int]
) -> list[threading.Thread]:
    """One thread per rank, each waiting for a slot (held until the slots' cores free)."""

    def run(rank: int) -> None:
        with slots.slot(rank):
            started.append(rank)

    threads = [threading.Thread(target=run, args=(rank,), name=f"rank-{rank}") for rank in ranks]
    for thread in threads:
        thread.start()
    return threads


def test_a_free_slot_goes_to_the_lowest_rank_waiting() -> None:
    slots = RunSlots(1, has_idle_core=lambda cores: False)
    started: list[int] = []
    with slots.slot(0):  # the one core is taken while every other run queues
        threads = waiting_in_rank(slots, [5, 3, 9, 1, 7], started)
        time.sleep(0.2)
        assert started == []
    for thread in threads:
        thread.join(timeout=10)
    assert started == [1, 3, 5, 7, 9]


def test_only_the_first_in_rank_looks_for_an_idle_core() -> None:
    """The others sleep until a run starts or ends: their polling would take the GIL."""
    askers: set[str] = set()

    def no_idle_core(cores: int) -> bool:
        askers.add(threading.current_thread().name)
        return False

    slots = RunSlots(1, has_idle_core=no_idle_core)
    started: list[int] = []
    with slots.slot(0):
        threads = waiting_in_rank(slots, [4, 2, 6], started)
        time.sleep(0.1)  # a run that came first looked until a lower rank came
        askers.clear()
        time.sleep(0.3)  # about 30 looks by one waiting run
        asked_while_all_waited = set(askers)
    for thread in threads:
        thread.join(timeout=10)
    assert started == [2, 4, 6]
    assert asked_while_all_waited == {"rank-2"}


def test_no_further_run_where_they_are_not_wanted() -> None:
    """Under ``grade``: the submission's processes and threads share one limit."""
    slots = RunSlots(2, further=False, has_idle_core=lambda cores: True)
    peak, further = most_at_once(slots, 6)
    assert peak == 2
    assert not any(further)


def lowered(niceness: int, autogroup: Path) -> tuple[int, int]:
    """This process's niceness before and after ``lower_priority`` in a child."""
    code = (
        "import os, pathlib, sys\n"
        "from pytest_tutorial.run_slots import lower_priority\n"
        "before = os.nice(0)\n"
        "lower_priority(int(sys.argv[1]), pathlib.Path(sys.argv[2]))\n"
        "print(before, os.nice(0))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(niceness), str(autogroup)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


def test_a_further_run_lowers_its_priority_and_its_session_groups(tmp_path: Path) -> None:
    autogroup = tmp_path / "autogroup"
    before, after = lowered(10, autogroup)
    assert after == min(before + 10, 19)
    assert autogroup.read_text(encoding="ascii") == "10"


def test_a_run_within_one_per_core_keeps_its_priority(tmp_path: Path) -> None:
    autogroup = tmp_path / "autogroup"
    before, after = lowered(0, autogroup)
    assert after == before
    assert not autogroup.exists()


def test_a_session_group_that_cannot_be_written_still_lowers_the_process(
    tmp_path: Path,
) -> None:
    before, after = lowered(5, tmp_path / "no" / "such" / "autogroup")
    assert after == min(before + 5, 19)
