"""Functions of the checks that the learner's code calls back, run on the trusted side.

A check hands the learner's code a function (a ``compute``, a handler, a ``sleep``): it
crosses as a callback id (:meth:`TrustedCallbacks.register`), and the worker's stub asks
for it to run here, so counts and concurrency are what the trusted side saw. A plain
function runs in a pool thread; a coroutine function made on a running loop (a check's)
runs there as a task, holding no thread while it waits, and is cancelled when the worker
says the learner's code cancelled its caller (:data:`protocol.CANCEL`), as a ``wait_for``
timeout does in one process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import itertools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_tutorial.isolation.channel import ChannelClosed
from pytest_tutorial.isolation.codec import Codec, CodecError

if TYPE_CHECKING:
    from pytest_tutorial.isolation.remote import Worker

MAX_CALLBACKS = 256
"""Callbacks of one worker running or queued at once; past it a callback fails at once (a
flood of requests from the worker must not queue without bound in the trusted process)."""


class TrustedCallbacks:
    """The callbacks one worker may call, and those running now."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[Callable[..., Any], asyncio.AbstractEventLoop | None]] = {}
        self._callback_ids: dict[int, int] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(64, "trusted-callback")
        self._running: dict[object, concurrent.futures.Future[Any]] = {}
        self._cancelled: set[int] = set()
        self._pool_loops: set[asyncio.AbstractEventLoop] = set()
        """The loops of the coroutine callbacks running in pool threads now."""
        self.queued = 0
        """Callbacks running or waiting to run now (at most :data:`MAX_CALLBACKS`)."""

    def register(self, function: Callable[..., Any]) -> dict[str, Any]:
        """A trusted function the worker may call; the same function gets the same id."""
        coroutine = is_async(function)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            number = self._callback_ids.get(id(function))
            if number is None or self._callbacks.get(number, (None,))[0] is not function:
                number = next(self._ids)
                self._callback_ids[id(function)] = number
            self._callbacks[number] = (function, loop)
        return {
            "id": number,
            "async": coroutine,
            "name": getattr(function, "__name__", "callback"),
            "qualname": getattr(function, "__qualname__", "callback"),
            "doc": getattr(function, "__doc__", None),
            "module": getattr(function, "__module__", None),
        }

    def run(self, message: dict[str, Any]) -> None:
        """Run the callback a worker asked for: in a pool thread, or on its check's loop.

        A coroutine callback made on a running loop (a check's) runs there as a task,
        holding no thread while it waits, so a hundred of the learner's concurrent calls
        are a hundred tasks; the worker cancels it (:data:`protocol.CANCEL`) when the
        learner's code cancelled its caller, as a ``wait_for`` timeout does in one process.
        """
        number = message.get("id")
        if self.worker.channel is None:
            return
        with self._lock:
            full = self.queued >= MAX_CALLBACKS
            if not full:
                self.queued += 1
            function, loop = self._callbacks.get(message.get("target"), (None, None))  # type: ignore[arg-type]
        if full:
            refusal = RuntimeError(f"more than {MAX_CALLBACKS} callbacks at once: refused")
            self._reply_error(message, refusal)
            return
        if function is not None and loop is not None and loop.is_running() and is_async(function):
            running = asyncio.run_coroutine_threadsafe(self._serve_async(message, function), loop)
            with self._lock:
                cancelled = number in self._cancelled
                self._running[number] = running
            if cancelled:
                running.cancel()
            running.add_done_callback(lambda _: self._forget(number))
            return
        self._pool.submit(self._serve_sync, message, function)

    def _serve_sync(self, message: dict[str, Any], function: Callable[..., Any] | None) -> None:
        try:
            self._call_sync(message, function)
        finally:
            with self._lock:
                self.queued -= 1

    def _call_sync(self, message: dict[str, Any], function: Callable[..., Any] | None) -> None:
        try:
            if function is None:
                raise CodecError(f"no callback {message.get('target')!r}")
            args, kwargs = self._arguments(message)
            result = function(*args, **kwargs)
            if inspect.isawaitable(result):
                result = self._awaited_in_this_thread(result)
            self._reply(message, {"ok": self.worker.codec.encode(result)})
        except BaseException as error:
            self._reply_error(message, error)

    def _awaited_in_this_thread(self, awaitable: Any) -> Any:
        """Await a coroutine callback on a loop of its own, one :meth:`cancel_stranded` reaches."""
        with asyncio.Runner() as runner:
            loop = runner.get_loop()
            with self._lock:
                self._pool_loops.add(loop)
            try:
                if self.worker.channel is None:  # stopped before this callback began
                    raise asyncio.CancelledError
                return runner.run(_awaited(awaitable))
            finally:
                with self._lock:
                    self._pool_loops.discard(loop)
                if inspect.iscoroutine(awaitable):
                    awaitable.close()  # never started: no "never awaited" warning

    def cancel_stranded(self) -> None:
        """The worker is gone: cancel the coroutine callbacks still running in pool threads.

        Nobody will read their answers, and one waiting for what will never come (a check's
        handler that hangs on purpose) would hold its thread, and this interpreter's exit,
        which joins the pool's threads, for ever. The callbacks on a check's own loop hold
        no thread: they end with that loop.
        """
        with self._lock:
            loops = list(self._pool_loops)
        for loop in loops:
            with contextlib.suppress(RuntimeError):  # it closed meanwhile
                loop.call_soon_threadsafe(_cancel_every_task, loop)

    async def _serve_async(self, message: dict[str, Any], function: Callable[..., Any]) -> None:
        try:
            args, kwargs = self._arguments(message)
            result = await function(*args, **kwargs)
            self._reply(message, {"ok": self.worker.codec.encode(result)})
        except BaseException as error:
            self._reply_error(message, error)
            if not isinstance(error, Exception):
                raise

    def _arguments(self, message: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        args = self.worker.codec.decode(message.get("args") or [])
        kwargs = self.worker.codec.decode(message.get("kwargs") or {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise CodecError("args must be a list and kwargs an object")
        return args, kwargs

    def _reply(self, message: dict[str, Any], answer: dict[str, Any]) -> None:
        channel = self.worker.channel
        if channel is not None:
            with contextlib.suppress(ChannelClosed, ValueError):
                channel.send({"re": message.get("id"), **answer})

    def _reply_error(self, message: dict[str, Any], error: BaseException) -> None:
        from pytest_tutorial.isolation.errors import exception_info

        self._reply(message, {"error": exception_info(error, self._plain_args)})

    def _forget(self, number: object) -> None:
        with self._lock:
            self.queued -= 1
            self._running.pop(number, None)
            if isinstance(number, int):
                self._cancelled.discard(number)

    def cancel(self, number: object) -> None:
        """The worker's caller of callback request ``number`` was cancelled: cancel it here."""
        with self._lock:
            running = self._running.get(number)
            if running is None and isinstance(number, int):
                self._cancelled.add(number)  # it has not started yet
        if running is not None:
            running.cancel()

    def _plain_args(self, args: tuple[Any, ...]) -> Any:
        return [Codec().encode(argument) for argument in args]


def is_async(function: Callable[..., Any]) -> bool:
    """Whether calling ``function`` gives a coroutine (a coroutine function or callable)."""
    call = type(function).__call__ if callable(function) else None
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(call)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _cancel_every_task(loop: asyncio.AbstractEventLoop) -> None:
    for task in asyncio.all_tasks(loop):
        task.cancel()
