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


def in_rank(
    slots: RunSlots, ranks: list[int], started: list[int], *, stagger_s: float = 0.0
) -> list[threading.Thread]:
    """One thread per rank, started in the order given, each starting a run when it may."""

    def run(rank: int) -> None:
        with slots.slot(rank):
            started.append(rank)

    threads = [threading.Thread(target=run, args=(rank,), name=f"rank-{rank}") for rank in ranks]
    for thread in threads:
        thread.start()
        time.sleep(stagger_s)
    return threads


def test_runs_start_in_rank_order_whatever_order_their_threads_come_in() -> None:
    slots = RunSlots(2, has_idle_core=lambda cores: True)
    started: list[int] = []
    threads = in_rank(slots, [3, 1, 4, 0, 2], started, stagger_s=0.05)
    for thread in threads:
        thread.join(timeout=10)
    assert started == [0, 1, 2, 3, 4]


def test_a_rank_given_up_is_not_waited_for() -> None:
    slots = RunSlots(1, has_idle_core=lambda cores: False)
    started: list[int] = []
    threads = in_rank(slots, [2, 0], started)
    threads[1].join(timeout=10)
    time.sleep(0.1)
    assert started == [0]  # rank 2 waits for rank 1
    slots.give_up(1)  # its run ended before it could start (the runs were cancelled, say)
    threads[0].join(timeout=10)
    assert started == [0, 2]


def test_only_the_run_whose_turn_it_is_looks_for_an_idle_core() -> None:
    """The others sleep until a run starts or ends: their polling would take the GIL."""
    askers: set[str] = set()

    def no_idle_core(cores: int) -> bool:
        askers.add(threading.current_thread().name)
        return False

    slots = RunSlots(1, has_idle_core=no_idle_core)
    started: list[int] = []
    with slots.slot(0):  # the one core is taken while the next ranks queue
        threads = in_rank(slots, [2, 1, 3], started)
        time.sleep(0.3)  # about 30 looks by the run whose turn it is
        asked_while_all_waited = set(askers)
    for thread in threads:
        thread.join(timeout=10)
    assert started == [1, 2, 3]
    assert asked_while_all_waited == {"rank-1"}


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
