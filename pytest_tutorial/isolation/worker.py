"""The worker: imports the learner's solution and serves the trusted process's requests.

Started by :mod:`pytest_tutorial.isolation.remote` as ``python -I -m
pytest_tutorial.isolation.worker FD`` (inside the grading sandbox when grading), with one
end of a socket pair as file descriptor FD. Every request runs on a thread of its own, so
calls the trusted side makes from several threads really run at the same time here; a
coroutine runs on the worker's one event loop, in its own thread. The import of the
solution runs on the main thread, as it does in a run in one process, so module-level code
that installs signal handlers works. Learner objects cross as
handles (ids into this process's table); the trusted side's functions arrive as callbacks,
stubs that ask the trusted side to run them. Log records of the learner's code are sent to
the trusted side, where checks capture them as usual.

Nothing here is trusted by the trusted side: this process runs the learner's code, which
can change anything in it. What the trusted side believes, it checks or measures itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import itertools
import logging
import os
import queue
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from pytest_tutorial.isolation import protocol
from pytest_tutorial.isolation.channel import Channel, ChannelClosed
from pytest_tutorial.isolation.codec import Codec, CodecError, tagged
from pytest_tutorial.isolation.describe import describe
from pytest_tutorial.isolation.errors import (
    ForeignExceptions,
    class_info,
    exception_info,
    innermost_in,
)
from pytest_tutorial.isolation.worker_fixtures import (
    ForwardingHandler,
    WorkerFixtures,
    log_message,
)
from pytest_tutorial.stand_ins import RAISES, RETURNS, Raises, Returns

MAX_THREADS = 256
"""Requests served at once; far more than any check's concurrent callers."""


class WorkerCodec(Codec):
    """The worker's references: its objects as handles, the trusted side's as callbacks."""

    def __init__(self, server: WorkerServer) -> None:
        self.server = server
        self.handles: dict[int, object] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def register(self, value: object) -> int:
        """Keep ``value`` reachable by id until the trusted side releases it."""
        with self._lock:
            handle = next(self._ids)
            self.handles[handle] = value
        return handle

    def release(self, handles: object) -> None:
        """Forget handles the trusted side no longer holds."""
        if not isinstance(handles, list):
            return
        with self._lock:
            for handle in handles:
                if isinstance(handle, int):
                    self.handles.pop(handle, None)

    def resolve(self, handle: object) -> object:
        """The object behind a handle id, or :class:`CodecError`."""
        with self._lock:
            if isinstance(handle, int) and handle in self.handles:
                return self.handles[handle]
        raise CodecError(f"no object with handle {handle!r} (released, or never made)")

    def encode(self, value: object, depth: int = 0) -> Any:
        """Plain data by value; a named tuple (a learner's type with methods) as a handle."""
        if isinstance(value, tuple) and type(value) is not tuple:
            return tagged("handle", describe(value, self.register(value)))
        return super().encode(value, depth)

    def encode_other(self, value: object, depth: int) -> Any:
        """An object that is not plain data crosses as a handle (a class of exception as data)."""
        if isinstance(value, ByReference):  # a plain value too, when the checks ask so
            value = value.value
            return tagged("handle", describe(value, self.register(value)))
        if isinstance(value, type) and issubclass(value, BaseException):
            return tagged("exception_class", class_info(value))
        return tagged("handle", describe(value, self.register(value)))

    def decode_tag(self, tag: str, payload: object, depth: int) -> Any:
        """A tagged value from the checks: a reference to an object here, or a callback."""
        if tag == "ref":
            return self.resolve(payload)
        if tag == "callback" and isinstance(payload, dict):
            return self.server.callback_stub(payload)
        if tag == "exception_class" and isinstance(payload, dict):
            return self.server.foreign.class_for(payload)
        if tag == RETURNS:
            return Returns(self.decode(payload, depth + 1))
        if tag == RAISES and isinstance(payload, dict) and isinstance(payload.get("class"), dict):
            return Raises(
                self.server.foreign.class_for(payload["class"]), str(payload.get("message"))
            )
        if tag == "clock" and isinstance(payload, dict):
            return self.server.fixtures.clock_reading(payload)
        if tag == "redis" and isinstance(payload, dict):
            from pytest_tutorial.isolation import redis_bridge

            return redis_bridge.worker_client(payload)
        if tag == "aws" and isinstance(payload, dict) and isinstance(payload.get("call"), dict):
            from pytest_tutorial.isolation import aws_bridge

            return aws_bridge.worker_client(payload, self.server.callback_stub(payload["call"]))
        return super().decode_tag(tag, payload, depth)


class ByReference:
    """A call's result the checks asked for as a handle, not a copy (``by_reference``)."""

    def __init__(self, value: object) -> None:
        self.value = value


class WorkerServer:
    """Serves one trusted process over one channel until it closes."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.codec = WorkerCodec(self)
        self.foreign = ForeignExceptions(resolve=_loaded_class)
        self._read_lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="worker-loop", daemon=True).start()
        self.folder = Path.cwd()
        self._pending: dict[int, concurrent.futures.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._stubs: dict[int, Any] = {}
        self.log_handler: ForwardingHandler | None = None
        self.fixtures = WorkerFixtures()
        self._serving = threading.local()
        self._tasks: dict[object, asyncio.Task[Any] | None] = {}
        self._cancelled: set[object] = set()
        self._on_main: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        """Requests the main thread serves (imports), None once the channel has closed."""

    # --- serving ---------------------------------------------------------------------------

    def serve(self) -> None:
        """Serve requests until the trusted side closes the channel.

        Threads take turns reading (leader and followers): the thread that reads a request
        lets the next idle thread read on and serves the request itself, so a call costs one
        wake-up, not a hand-over to a pool; a new thread is started only when none is idle.
        """
        self.channel.send({"op": protocol.READY, "pid": os.getpid(), "python": sys.version})
        self._start_reader()
        while (message := self._on_main.get()) is not None:
            self._answer(message)

    def _start_reader(self) -> None:
        with self._lock:
            if self._threads >= MAX_THREADS:
                return
            self._threads += 1
            self._idle += 1
        threading.Thread(target=self._take_turns, name="worker-call", daemon=True).start()

    def _take_turns(self) -> None:
        while True:
            with self._read_lock:
                try:
                    message = self.channel.receive()
                except ChannelClosed:
                    self._on_main.put(None)
                    return
                with self._lock:
                    self._idle -= 1
                    start_another = self._idle == 0
            if start_another:
                self._start_reader()
            self.fixtures.follow_logging_disable(message)
            self._take(message)
            with self._lock:
                self._idle += 1

    def _take(self, message: dict[str, Any]) -> None:
        if "re" in message:
            self._settle(message)
        elif message.get("op") == protocol.RELEASE:
            self.codec.release(message.get("handles"))
        elif message.get("op") == protocol.CANCEL:
            self._cancel_task(message.get("target"))
        elif message.get("op") == protocol.IMPORT:
            self._on_main.put(message)
        else:
            self._answer(message)

    def _answer(self, message: dict[str, Any]) -> None:
        number = message.get("id")
        self._serving.number = number
        try:
            value = self._dispatch(message)
            reply: dict[str, Any] = {"re": number, "ok": self.codec.encode(value)}
        except BaseException as error:  # the learner's code may raise anything
            reply = {"re": number, "error": self.describe_error(error)}
        try:
            self.channel.send(reply)
        except ValueError as error:  # a value too big or too deep to send
            self.channel.send({"re": number, "error": self.describe_error(error)})
        except ChannelClosed:
            pass

    def describe_error(self, error: BaseException) -> dict[str, Any]:
        """An exception of the learner's code (or of this side) as data."""
        return exception_info(error, self._plain_args, innermost_in(self.folder))

    def _plain_args(self, args: tuple[Any, ...]) -> Any:
        return [Codec().encode(argument) for argument in args]

    def _dispatch(self, message: dict[str, Any]) -> Any:
        op = message.get("op")
        if op == protocol.IMPORT:
            from pytest_tutorial.isolation.worker_import import import_solution

            self.folder = Path(str(message.get("folder")))
            return import_solution(message)
        if op == protocol.MEMORY and message.get("action") == "replay":
            from pytest_tutorial.isolation.worker_memory import replay_under_tracing

            return replay_under_tracing(self, message)
        if op == protocol.MEMORY:
            return self.fixtures.memory(message)
        if op == protocol.CLOCK:
            self.fixtures.clock(message.get("clock")).update(message)
            return None
        target = self.codec.resolve(message.get("target"))
        if op == protocol.GETATTR:
            return getattr(target, protocol.checked_attribute(message.get("name")))
        if op == protocol.CALL:
            name = message.get("name")
            function: Any = target
            if name is not None:
                function = getattr(target, protocol.checked_attribute(name))
            args = self.codec.decode(message.get("args") or [])
            kwargs = self.codec.decode(message.get("kwargs") or {})
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise CodecError("args must be a list and kwargs an object")
            result = self._settled(function(*args, **kwargs))
            return ByReference(result) if message.get("by_reference") else result
        if op == protocol.UNARY:
            return self._unary(target, message.get("what"))
        if op == protocol.LOAD:
            from pytest_tutorial.isolation.worker_load import run_load_request

            return run_load_request(self, target, message)
        raise CodecError(f"unknown request {op!r}")

    def _settled(self, value: Any) -> Any:
        """A coroutine's result (run on the worker's loop), or ``value`` itself."""
        if not inspect.isawaitable(value):
            return value
        number = getattr(self._serving, "number", None)

        async def cancellable() -> Any:
            task = asyncio.current_task()
            with self._lock:
                self._tasks[number] = task
                cancelled = number in self._cancelled
            if cancelled and task is not None:
                task.cancel()
            try:
                return await value
            finally:
                with self._lock:
                    self._tasks.pop(number, None)
                    self._cancelled.discard(number)

        return asyncio.run_coroutine_threadsafe(cancellable(), self.loop).result()

    def _cancel_task(self, number: object) -> None:
        """Cancel the coroutine serving request ``number``: the checks' caller was cancelled."""
        with self._lock:
            task = self._tasks.get(number)
            if task is None:
                self._cancelled.add(number)  # not started yet
        if task is not None:
            self.loop.call_soon_threadsafe(task.cancel)

    def _unary(self, target: Any, what: object) -> Any:
        if what == "iter":
            return iter(target)
        if what == "next":
            try:
                return {"value": next(target)}
            except StopIteration:
                return {"done": True}
        if what == "aiter":
            return aiter(target)
        if what == "anext":
            try:
                return {"value": self._settled(anext(target))}
            except StopAsyncIteration:
                return {"done": True}
        if what == "len":
            return len(target)
        if what == "bool":
            return bool(target)
        if what in ("repr", "str"):
            return (repr if what == "repr" else str)(target)[:2000]
        raise CodecError(f"unknown operation {what!r}")

    # --- asking the trusted side -----------------------------------------------------------

    def callback_stub(self, payload: dict[str, Any]) -> Any:
        """A local function that runs the trusted side's callback ``payload`` describes."""
        number = payload.get("id")
        if not isinstance(number, int):
            raise CodecError("a callback needs an id")
        with self._lock:
            if number in self._stubs:
                return self._stubs[number]
        if payload.get("async"):

            async def stub(*args: Any, **kwargs: Any) -> Any:
                future = self._ask(number, args, kwargs)
                try:
                    return await asyncio.wrap_future(future)
                except asyncio.CancelledError:  # the learner's code cancelled it: so there
                    self._cancel(future)
                    raise

            made: Any = stub
        else:

            def stub_sync(*args: Any, **kwargs: Any) -> Any:
                return self._ask(number, args, kwargs).result()

            made = stub_sync
        for field in ("__name__", "__qualname__", "__doc__", "__module__"):
            value = payload.get(field.strip("_"))
            if isinstance(value, str) or (field == "__doc__" and value is None):
                setattr(made, field, value)
        with self._lock:
            return self._stubs.setdefault(number, made)

    def _ask(
        self, callback: int, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            number = next(self._ids)
            self._pending[number] = future
        message = {
            "id": number,
            "op": protocol.CALLBACK,
            "target": callback,
            "args": self.codec.encode(list(args)),
            "kwargs": self.codec.encode(kwargs),
        }
        try:
            self.channel.send(message)
        except (ChannelClosed, ValueError) as error:
            with self._lock:
                self._pending.pop(number, None)
            future.set_exception(RuntimeError(f"the callback could not be sent: {error}"))
        return future

    def _cancel(self, future: concurrent.futures.Future[Any]) -> None:
        """Cancel the trusted side's run of a callback whose caller here was cancelled."""
        with self._lock:
            numbers = [number for number, pending in self._pending.items() if pending is future]
            for number in numbers:
                del self._pending[number]
        for number in numbers:
            with contextlib.suppress(ChannelClosed, ValueError):
                self.channel.send({"op": protocol.CANCEL, "target": number})

    def _settle(self, reply: dict[str, Any]) -> None:
        with self._lock:
            future = self._pending.pop(reply.get("re"), None)  # type: ignore[arg-type]
        if future is None or future.done():  # cancelled meanwhile
            return
        try:
            if "error" in reply and isinstance(reply["error"], dict):
                info = reply["error"]
                args = self.codec.decode(info.get("args")) if info.get("args") else None
                attrs = self.codec.decode(info.get("attrs") or {})
                future.set_exception(self.foreign.rebuild(info, args, attrs))
            else:
                future.set_result(self.codec.decode(reply.get("ok")))
        except CodecError as error:
            future.set_exception(error)

    def send_log(self, record: logging.LogRecord) -> None:
        """Tell the trusted side about one log record (best effort)."""
        with contextlib.suppress(ChannelClosed, ValueError):
            self.channel.send(log_message(record))


def _loaded_class(module: str, qualname: str) -> type[BaseException] | None:
    """The learner's own exception class, when the trusted side hands one back."""
    found: object = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


async def _awaited(value: Any) -> Any:
    return await value


def main(argv: list[str] | None = None) -> None:
    """Serve on the inherited socket given as the only argument; exit when it closes."""
    arguments = sys.argv[1:] if argv is None else argv
    sock = socket.socket(fileno=int(arguments[0]))
    server = WorkerServer(Channel(sock))
    handler = ForwardingHandler(server)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.NOTSET)
    server.log_handler = handler
    try:
        server.serve()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # threads the learner's code left behind must not keep the worker alive


if __name__ == "__main__":
    main()
