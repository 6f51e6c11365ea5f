"""The Redis a check gets, and clients that count and fail the learner's commands.

A check's Redis is a fakeredis server or a database of a real server. This module is kept
apart from :mod:`pytest_tutorial.fixtures.redis` so that importing fakeredis and redis-py
(about 0.12 s with NumPy, which fakeredis imports where it is installed) is paid by the
runs whose checks use Redis, not by every tutorial run: the fixture module imports it when
a Redis fixture is set up.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import fakeredis
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from pytest_tutorial.fakeredis_databases import make_database_creation_atomic
from pytest_tutorial.redis_server import RedisProcess

if TYPE_CHECKING:
    from pytest_tutorial.fixtures.redis import FakeClock

make_database_creation_atomic()  # the checks' servers, and any the learner's code makes


class CommandCounting(redis.Redis):
    """A client that counts the commands it sends and fails the ones a check asks it to.

    Put first among the bases of a client class (fakeredis's or redis-py's own).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: Counter[str] = Counter()
        self.failing: dict[str, Exception] = {}

    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Count the command, then send it."""
        self._count(args)
        return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        """A pipeline whose commands are counted when it runs."""
        return self._counting_pipeline(super().pipeline(transaction, shard_hint))

    def fail(self, command: str, error: Exception | None = None) -> None:
        """Make every later ``command`` (e.g. ``"GET"``; ``"*"`` for all) raise ``error``."""
        self.failing[command.upper()] = error or redis.exceptions.ConnectionError(
            "Error 111 connecting to localhost:6379. Connection refused."
        )

    def heal(self) -> None:
        """Stop failing commands."""
        self.failing.clear()

    def _count(self, args: tuple[Any, ...]) -> None:
        name = str(args[0]).upper() if args else ""
        self.commands[name] += 1
        error = self.failing.get(name) or self.failing.get("*")
        if error is not None:
            raise error

    def total_commands(self) -> int:
        """How many commands were sent since the client was made or reset."""
        return sum(self.commands.values())

    def _counting_pipeline(self, pipe: Any) -> Any:
        """``pipe`` with its queued commands counted (and failed) like single ones.

        A pipeline or ``MULTI``/``EXEC`` transaction sends its commands over the connection,
        past ``execute_command``: without this a check could neither see nor fail them.
        """
        execute = pipe.execute

        def counted_execute(raise_on_error: bool = True) -> Any:
            for args, _options in pipe.command_stack:
                self._count(args)
            return execute(raise_on_error)

        pipe.execute = counted_execute
        return pipe


class InstrumentedRedis(CommandCounting, fakeredis.FakeRedis):
    """A fakeredis client that counts commands and fails the ones a check asks it to."""


class InstrumentedRealRedis(CommandCounting):
    """A client of a real server that counts commands and fails the ones a check asks it to."""


class RedisBackend:
    """One check's Redis: the clients the fixtures hand out all reach the same server.

    :meth:`separate` gives another, independent Redis for the same check (a fakeredis
    server of its own, or another database of the real server), so that two
    implementations measured side by side never read or overwrite each other's keys.
    """

    MAX_DATABASES = 16
    """A real redis-server's default number of databases: the separate ones a check can have."""

    def __init__(self, clock: FakeClock, process: RedisProcess | None, db: int = 0) -> None:
        self.clock = clock
        self.process = process
        self.db = db
        self._separated: list[RedisBackend] = []
        self._clients: list[CommandCounting] = []
        if process is None:
            self.server: fakeredis.FakeServer | None = fakeredis.FakeServer()
        else:
            self.server = None
            control = process.control if db == 0 else process.client(db)
            if db == 0:
                control.flushall()
            else:
                control.flushdb()
            self._control = control
            clock.on_advance.append(self._expire_by)

    @property
    def processes(self) -> tuple[int, ...]:
        """The id of the redis-server process, if a real one serves this check."""
        return () if self.process is None else (self.process.process.pid,)

    def separate(self) -> RedisBackend:
        """Another, empty Redis for this check, sharing only the clock."""
        db = self.db + len(self._separated) + 1
        if self.process is not None and db >= self.MAX_DATABASES:
            raise RuntimeError(f"a check can use at most {self.MAX_DATABASES} separate Redis")
        backend = RedisBackend(self.clock, self.process, db)
        self._separated.append(backend)
        return backend

    def close(self) -> None:
        """Close the harness's own connections (those of separate Redis included)."""
        for backend in self._separated:
            backend.close()
        for client in self._clients:
            client.close()
        if self.process is not None and self.db != 0:
            self._control.close()

    def client(self) -> CommandCounting:
        """A counting client for the learner's code (closed with the backend)."""
        client: CommandCounting
        if self.process is None:
            client = InstrumentedRedis(server=self.server)
        else:
            client = InstrumentedRealRedis(host="127.0.0.1", port=self.process.port, db=self.db)
        self._clients.append(client)
        return client

    def inspector(self) -> redis.Redis:
        """A plain client for the check to read state back."""
        if self.process is None:
            return fakeredis.FakeRedis(server=self.server)
        return self.process.client(self.db)

    def async_client(self) -> Any:
        """An asyncio client of the same server."""
        if self.process is None:
            return fakeredis.FakeAsyncRedis(server=self.server)
        return redis.asyncio.Redis(host="127.0.0.1", port=self.process.port, db=self.db)

    def _expire_by(self, seconds: float) -> None:
        """A real server's time cannot move: shorten every remaining TTL instead."""
        client = self._control
        for key in client.scan_iter(count=500):
            remaining = client.pttl(key)
            if remaining < 0:
                continue  # no expiry (-1) or already gone (-2)
            left = remaining - int(seconds * 1000)
            if left <= 0:
                client.delete(key)
            else:
                client.pexpire(key, left)


NO_RETRY = Retry(NoBackoff(), 0)
"""Fail at once, like the fake: redis-py otherwise retries a refused connection with backoff."""
