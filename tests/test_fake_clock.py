"""The checks' fake clock: a frozen one lets no real time expire fakeredis keys."""

from __future__ import annotations

import importlib
import time

import fakeredis
import pytest

from pytest_tutorial.fixtures.redis import _FAKEREDIS_CLOCK_MODULES, FakeClock, _ShiftedTime


def shifted_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A FakeClock that fakeredis reads, as the ``fake_clock`` fixture makes it."""
    clock = FakeClock()
    for name in _FAKEREDIS_CLOCK_MODULES:
        monkeypatch.setattr(importlib.import_module(name), "time", _ShiftedTime(clock))
    return clock


def let_real_time_pass(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(seconds / 4)


def test_a_frozen_clock_moves_only_when_advanced(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = shifted_clock(monkeypatch)
    clock.freeze()
    redis = fakeredis.FakeRedis()
    redis.set("k", "v", px=5)
    before = (clock.time(), clock.monotonic())
    let_real_time_pass(0.02)
    assert (clock.time(), clock.monotonic()) == before
    assert redis.get("k") == b"v"
    clock.advance(0.006)
    assert clock.time() == before[0] + 0.006
    assert redis.get("k") is None


def test_an_unfrozen_clock_follows_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = shifted_clock(monkeypatch)
    redis = fakeredis.FakeRedis()
    redis.set("k", "v", px=5)
    before = clock.monotonic()
    let_real_time_pass(0.02)
    assert clock.monotonic() > before
    assert redis.get("k") is None
