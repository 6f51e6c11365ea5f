"""The check's fake Redis, served to the worker over a Unix socket.

A check hands the learner's code a counting client (``redis_client``). When that client
crosses to a worker, the trusted side serves the client's fakeredis server on a Unix socket
of its own (one per client, in a folder bound into the sandbox), and the worker connects a
real ``redis.Redis`` to it (:func:`worker_client`). Counting and injected failures happen
here, per socket, on the commands as the server receives them: the learner's code cannot
hide a command or dodge a failure. An injected error travels as an error reply
``TUTORIALFAULT <class> <message>`` that the worker's client raises as that redis-py
exception class, so the learner's code sees what it would see in process. A client with a
``before_command(name)`` method (a check's client that slows every command so races show)
has it run there too, before each command.
"""

from __future__ import annotations

import itertools
import os
import socketserver
import sys
import threading
from pathlib import Path
from typing import Any

from pytest_tutorial.isolation.codec import tagged

FAULT = "TUTORIALFAULT"
POLL_S = 0.01
"""How often a bridge's accept loop looks for its end: closing it at the end of each check
waits that long at most (socketserver's default, half a second, would add up)."""
UNCOUNTED = frozenset({"CLIENT", "HELLO", "SELECT"})
"""Commands a client sends on its own when it connects, which a check never counts."""
FAULT_CLASSES = (
    "ConnectionError",
    "TimeoutError",
    "ResponseError",
    "BusyLoadingError",
    "ReadOnlyError",
    "AuthenticationError",
    "RedisError",
)
"""The redis-py exceptions an injected failure can be (``redis.exceptions.<name>``)."""


def _handler_class() -> type[Any]:
    from fakeredis._clients._tcp_server import TCPFakeRequestHandler  # no public alternative

    class Handler(TCPFakeRequestHandler):
        def setup(self) -> None:
            # Every peer of a Unix socket has the address '': fakeredis keys its clients by it.
            bridge: Any = self.server
            self.client_address = ("unix", next(bridge.connection_ids))
            self.refused = False
            import redis

            try:
                super().setup()
                sock: Any = self.current_client.get_socket()
            except redis.ConnectionError:  # a check took the server down: the client sees it closed
                self.refused = True
                return
            process = sock._process_command
            owner = bridge.owner

            def counted(fields: list[bytes]) -> None:
                name = fields[0].decode(errors="replace").upper() if fields else ""
                if name not in UNCOUNTED:
                    error = owner.count_and_check(name)
                    if error is not None:
                        from fakeredis._helpers import SimpleError

                        sock.put_response(SimpleError(error))
                        return
                process(fields)

            sock._process_command = counted

        def handle(self) -> None:
            if not self.refused:
                super().handle()

    return Handler


class BridgeServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """One counting client's fakeredis server, on one Unix socket."""

    daemon_threads = True
    request_queue_size = 256
    """Connections waiting to be accepted: many threads of the learner's connect at once (a
    Unix socket refuses a connection with EAGAIN when the queue is full)."""

    def __init__(self, path: Path, owner: Any) -> None:
        self.owner = owner
        self.connection_ids = itertools.count(1)
        self.clients: dict[Any, Any] = {}
        self._shutdown_event = threading.Event()
        super().__init__(str(path), _handler_class())
        # Connecting needs write permission on the socket: a worker under a uid of its own
        # (grading) must be able to. The folder is the check's own (0700 unless handed over).
        os.chmod(path, 0o777)
        self.fake_server = owner.server

    def shutdown(self) -> None:
        """Stop serving and end every open connection."""
        self._shutdown_event.set()
        super().shutdown()


class RedisBridge:
    """The sockets of one check's clients; closed at the end of the check."""

    def __init__(self, folder: Path, inside: Path | None = None) -> None:
        self.folder = folder
        self.inside = inside or folder
        """The same folder as the worker sees it (bound into its sandbox)."""
        self._servers: dict[int, tuple[Any, BridgeServer, str]] = {}
        self._names = itertools.count(1)
        self._lock = threading.Lock()

    def adapt(self, value: object) -> dict[str, object] | None:
        """The ``$redis`` reference for a fake client, or None for anything else."""
        if not is_bridgeable(value):
            return None
        with self._lock:
            known = self._servers.get(id(value))
            if known is None or known[0] is not value:
                name = f"redis-{next(self._names)}.sock"
                server = BridgeServer(self.folder / name, _Counting(value))
                threading.Thread(
                    target=server.serve_forever,
                    args=(POLL_S,),
                    name=f"redis-bridge-{name}",
                    daemon=True,
                ).start()
                known = (value, server, name)
                self._servers[id(value)] = known
        kwargs = getattr(value, "connection_pool").connection_kwargs  # noqa: B009 (a fake client)
        return tagged(
            "redis",
            {
                "path": str(self.inside / known[2]),
                "decode_responses": bool(kwargs.get("decode_responses", False)),
                "async": _is_async(value),
            },
        )

    def close(self) -> None:
        """Remove the sockets and stop every server, in the background.

        A server's loop notices a shutdown only at its next poll (:data:`POLL_S`): waiting
        for each would add that to every check. Its socket file goes at once, so nothing
        new can connect; what the learner's code still sends on an open connection after
        the check ended reaches that check's fake and counts for nothing.
        """
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for _, _, name in servers:
            (self.folder / name).unlink(missing_ok=True)
        if servers:
            threading.Thread(
                target=_stop, args=([server for _, server, _ in servers],), daemon=True
            ).start()


def _stop(servers: list[BridgeServer]) -> None:
    for server in servers:
        server.shutdown()
        server.server_close()


def is_bridgeable(value: object) -> bool:
    """Whether ``value`` is a fakeredis client (sync or asyncio) this bridge can serve.

    A counting client (``redis_client``) is counted and can fail on demand; any other
    fakeredis client is served as it is.
    """
    fakeredis = sys.modules.get("fakeredis")
    if fakeredis is None:
        return False
    kinds = (fakeredis.FakeRedis, fakeredis.FakeAsyncRedis)
    pool = getattr(value, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None) or {}
    return isinstance(value, kinds) and kwargs.get("server") is not None


def _is_async(value: object) -> bool:
    fakeredis = sys.modules.get("fakeredis")
    return fakeredis is not None and isinstance(value, fakeredis.FakeAsyncRedis)


class _Counting:
    """Counts a client's commands and answers the failures its check injected."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.server = client.connection_pool.connection_kwargs["server"]

    def count_and_check(self, name: str) -> str | None:
        client = self.client
        before = getattr(client, "before_command", None)
        if callable(before):  # a client that slows every command, so races show (as it would)
            before(name)
        if not hasattr(client, "commands"):
            return None  # a fake client that does not count (``decoding_redis_client``)
        client.commands[name] += 1
        error = client.failing.get(name) or client.failing.get("*")
        if error is None:
            return None
        kind = type(error).__name__ if type(error).__name__ in FAULT_CLASSES else "RedisError"
        return f"{FAULT} {kind} {error}"


KEPT_CLIENTS = 8
"""Synchronous clients the worker keeps, newest first (a check crosses a handful)."""
_kept: dict[tuple[str, bool], Any] = {}
_kept_lock = threading.Lock()


def worker_client(payload: dict[str, Any]) -> Any:
    """In the worker: a redis-py client of the trusted side's socket (see the module).

    The same check-side client crossing again (a check that builds two services on one
    client, a property that builds them for every example) gets the same worker client, as
    it is the same object in one process; it keeps its connection instead of opening a new
    one. An asyncio client is bound to its event loop, so it is new every time.
    """
    if payload.get("async"):
        return _async_worker_client(payload)
    connection = _connection(payload)
    key = (str(connection["unix_socket_path"]), bool(connection["decode_responses"]))
    with _kept_lock:
        client = _kept.pop(key, None) or _sync_worker_client(connection)
        _kept[key] = client
        while len(_kept) > KEPT_CLIENTS:
            _kept.pop(next(iter(_kept))).close()
    return client


def _sync_worker_client(connection: dict[str, Any]) -> Any:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    class BridgedRedis(redis.Redis):
        """A Redis client; an injected failure raises the redis-py exception it names."""

        def execute_command(self, *args: Any, **options: Any) -> Any:
            try:
                return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
            except redis.exceptions.ResponseError as error:
                raise _injected(error) from None

    return BridgedRedis(**connection, retry=Retry(NoBackoff(), 0))


def _async_worker_client(payload: dict[str, Any]) -> Any:
    """:func:`worker_client` for a check's asyncio client."""
    import redis.asyncio
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    class BridgedAsyncRedis(redis.asyncio.Redis):
        """An asyncio Redis client; an injected failure raises the exception it names."""

        async def execute_command(self, *args: Any, **options: Any) -> Any:
            try:
                return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
            except redis.exceptions.ResponseError as error:
                raise _injected(error) from None

    return BridgedAsyncRedis(**_connection(payload), retry=Retry(NoBackoff(), 0))


def _connection(payload: dict[str, Any]) -> dict[str, Any]:
    """What both clients of the worker are given: the socket, no retry, RESP2, no CLIENT."""
    return {
        "unix_socket_path": str(payload.get("path", "")),
        "decode_responses": bool(payload.get("decode_responses")),
        "protocol": 2,
        "lib_name": None,
        "lib_version": None,
    }


def _injected(error: Exception) -> Exception:
    import redis

    text = str(error)
    if not text.startswith(FAULT + " "):
        return error
    _, kind, message = ([*text.split(" ", 2), ""])[:3]
    cls = getattr(redis.exceptions, kind, None) if kind in FAULT_CLASSES else None
    return cls(message) if isinstance(cls, type) else error
