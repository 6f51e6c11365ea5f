"""A fakeredis server behaves as one Redis, whoever connects to it first.

fakeredis makes a server's database when a connection first asks for it, outside its lock.
Two threads connecting at once each got a database of their own, and a correct rate
limiter (its first commands sent by 40 threads at once) lost half its writes.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import fakeredis
import pytest
import redis
from fakeredis._core import _server
from fakeredis._core._database import Database

from pytest_tutorial.fakeredis_databases import make_database_creation_atomic
from pytest_tutorial.fixtures.redis import FakeClock
from pytest_tutorial.redis_backend import RedisBackend


def two_first_connections_at_once(
    monkeypatch: pytest.MonkeyPatch, client: redis.Redis, keys: Callable[[], Any]
) -> list[Any]:
    """Two threads' first commands on ``client``, their databases made at the same moment
    if fakeredis lets them; the keys ``keys`` then reads back."""
    both_inside = threading.Barrier(2, timeout=0.5)

    class RacingDatabase(Database):
        """Waits, when made, until a second connection is making one too (or 0.5 s)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                both_inside.wait()
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(_server, "Database", RacingDatabase)
    start = threading.Barrier(2)

    def write(number: int) -> None:
        start.wait()
        client.set(f"key{number}", number)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(keys())


def test_a_checks_server_has_one_database(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = RedisBackend(FakeClock(), None)
    keys = two_first_connections_at_once(
        monkeypatch, backend.client(), lambda: backend.inspector().keys()
    )
    backend.close()
    assert keys == [b"key0", b"key1"], f"the server's database holds {keys}"


def test_a_server_the_learners_code_makes_has_one_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_database_creation_atomic()
    make_database_creation_atomic()  # a second call changes nothing
    server = fakeredis.FakeServer()
    keys = two_first_connections_at_once(
        monkeypatch,
        fakeredis.FakeRedis(server=server),
        lambda: fakeredis.FakeRedis(server=server).keys(),
    )
    assert keys == [b"key0", b"key1"], f"the server's database holds {keys}"


@pytest.mark.parametrize(
    "set_up",
    [
        pytest.param("import pytest_tutorial.redis_backend", id="the-checks-redis"),
        pytest.param(
            "from pytest_tutorial.warm.server import _first_use_of_fakeredis\n"
            "_first_use_of_fakeredis()",
            id="the-warm-server-of-the-learners-test-runs",
        ),
    ],
)
def test_where_the_harness_imports_fakeredis_the_fix_applies(set_up: str) -> None:
    # Each in a process of its own: this one applied it when it imported redis_backend.
    program = f"{set_up}\nimport fakeredis\nprint(type(fakeredis.FakeServer().dbs).__name__)\n"
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "_Databases", result
