"""``allocations_after`` measures the same in both modes, and stand-ins stay in the worker."""

from __future__ import annotations

import functools
import importlib.util
import itertools
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from pytest_tutorial import Raises, Returns, allocations_after
from pytest_tutorial.isolation import protocol
from pytest_tutorial.isolation.load_check import Tampered
from pytest_tutorial.isolation.remote import Worker
from pytest_tutorial.tutorials.caching.support import BackendUnavailable

pytestmark = pytest.mark.slow

KEEPER = '''
"""A learner's module that keeps, or not, something per key it is asked for."""


class Keeper:
    def __init__(self, leak):
        self.leak = leak
        self.kept = {}
        self.seen = 0

    def get(self, key, compute):
        self.seen += 1
        value = compute()
        if self.leak:
            self.kept[key] = [value] * 20
        return value

    async def aget(self, key, compute):
        return compute()


def call_n(function, times):
    return [function() for _ in range(times)]


def lie_about_memory():
    from pytest_tutorial.isolation import worker_memory

    worker_memory.replay_under_tracing = lambda server, message: "nothing at all"
'''
KEYS = 300
PER_KEY_BYTES = 20 * 8
"""What the leaking keeper holds per key at least: a list of 20 references."""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "keeper.py").write_text(textwrap.dedent(KEEPER), encoding="utf-8")
    return tmp_path


def _in_process(folder: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"keeper_{id(folder)}", folder / "keeper.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _in_worker(worker: Worker, folder: Path) -> Any:
    return worker.request(protocol.IMPORT, folder=str(folder), module="keeper", exports=["Keeper"])


def _both(folder: Path, worker: Worker) -> list[tuple[Any, SimpleNamespace]]:
    return [
        (_in_process(folder), SimpleNamespace(path=folder)),
        (_in_worker(worker, folder), SimpleNamespace(path=folder, worker=worker)),
    ]


def _reads(keeper: Any, compute: Callable[[int], object]) -> Callable[[], object]:
    numbers = itertools.count()

    def read() -> object:
        n = next(numbers)
        return keeper.get(f"key-{n}", compute(n))

    return read


def test_a_leak_measures_the_same_in_both_modes(folder: Path, worker: Worker) -> None:
    figures = []
    for module, solution in _both(folder, worker):
        leaking, honest = module.Keeper(True), module.Keeper(False)
        figures.append(
            [
                allocations_after(solution, _reads(keeper, Returns), KEYS, warmup=10)
                for keeper in (leaking, honest)
            ]
        )
        assert leaking.seen == honest.seen == KEYS + 10  # warm-up included, each call once
    for leaked, kept in figures:
        assert leaked >= KEYS * PER_KEY_BYTES, figures
        assert kept < 4096, figures
    (in_process, _), (in_worker, _) = figures
    assert 0.8 < in_worker / in_process < 1.25, figures


def test_expected_errors_end_their_call_only_and_others_reach_the_check(
    folder: Path, worker: Worker
) -> None:
    def half_failing(n: int) -> object:
        return Raises(BackendUnavailable, "down") if n % 2 else Returns(n)

    for module, solution in _both(folder, worker):
        keeper = module.Keeper(True)
        grown = allocations_after(
            solution, _reads(keeper, half_failing), KEYS, expected=(BackendUnavailable,)
        )
        assert keeper.seen == KEYS
        assert grown >= KEYS // 2 * PER_KEY_BYTES  # the calls that returned kept their lists
        with pytest.raises(ValueError, match="not this"):
            allocations_after(solution, _reads(keeper, lambda n: Raises(ValueError, "not this")), 5)
        with pytest.raises(TypeError, match="plain functions, not async ones"):
            allocations_after(solution, functools.partial(keeper.aget, "k", Returns(1)), 5)


def test_stand_ins_are_made_in_the_worker_and_never_call_back(
    folder: Path, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _in_worker(worker, folder)
    registered: list[object] = []
    monkeypatch.setattr(worker, "register_callback", registered.append)
    value = {"rows": [1, 2], "pair": (3, 4)}
    assert module.call_n(Returns(value), 3) == [value] * 3
    with pytest.raises(BackendUnavailable, match="backend down"):
        module.call_n(Raises(BackendUnavailable, "backend down"), 1)
    assert registered == []


def test_a_worker_that_answers_anything_but_a_byte_count_is_tampering(
    folder: Path, worker: Worker
) -> None:
    module = _in_worker(worker, folder)
    keeper = module.Keeper(True)
    module.lie_about_memory()
    with pytest.raises(Tampered, match="nothing at all"):
        allocations_after(SimpleNamespace(path=folder, worker=worker), _reads(keeper, Returns), 5)
