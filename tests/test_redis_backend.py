"""A check's fakeredis server behaves as one Redis, whoever connects to it first."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest
from fakeredis._core import _server
from fakeredis._core._database import Database

from pytest_tutorial.fixtures.redis import FakeClock
from pytest_tutorial.redis_backend import RedisBackend


def test_connections_made_at_once_share_one_database(monkeypatch: pytest.MonkeyPatch) -> None:
    # fakeredis makes a server's database when a connection first asks for it, outside its
    # lock. Two threads connecting at once each got a database of their own, and a correct
    # rate limiter (its first commands sent by 40 threads at once) lost half its writes.
    backend = RedisBackend(FakeClock(), None)
    both_inside = threading.Barrier(2, timeout=2)

    class RacingDatabase(Database):
        """Waits, when made, until a second connection is making one too."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                both_inside.wait()
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(_server, "Database", RacingDatabase)
    client = backend.client()
    start = threading.Barrier(2)

    def write(number: int) -> None:
        start.wait()
        client.set(f"key{number}", number)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys = sorted(backend.inspector().keys())
    backend.close()
    assert keys == [b"key0", b"key1"], f"the server's database holds {keys}"
