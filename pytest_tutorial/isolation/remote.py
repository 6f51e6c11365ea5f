"""The trusted side: a worker process, and the channel to it.

:class:`Worker` starts a worker (in a sandbox when given a command prefix) and sends
requests from any thread; a request waits for its answer, so a check's time limit
(``SIGALRM`` in the main thread) interrupts the wait, after which the worker is ended: its
state can no longer be trusted, and a desynchronised channel is never read again. A caller
waiting alone reads its own answer from the channel; otherwise a reader thread reads and
hands answers over (:mod:`.turns`). The worker's objects come back as handles
(:mod:`.handles`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from pytest_tutorial.isolation import protocol
from pytest_tutorial.isolation.callbacks import TrustedCallbacks
from pytest_tutorial.isolation.channel import Channel, ChannelClosed
from pytest_tutorial.isolation.codec import Codec, CodecError, tagged
from pytest_tutorial.isolation.errors import ForeignExceptions, class_info, steers_the_harness
from pytest_tutorial.isolation.exits import WorkerExit, plain_description
from pytest_tutorial.isolation.handles import Handle, _Method
from pytest_tutorial.isolation.learner_logs import LogBudget, relog
from pytest_tutorial.isolation.turns import Turns
from pytest_tutorial.isolation.worker_process import ChildProcess, WorkerProcess
from pytest_tutorial.stand_ins import RAISES, RETURNS, Raises, Returns

START_TIMEOUT_S = 60.0
CANCEL_GRACE_S = 10.0
"""How long a cancelled coroutine of the worker's may take to end (a check's time limit
usually ends the wait first)."""
WORKER_MODULE = "pytest_tutorial.isolation.worker"
MODULE_PREFIX = "worker:"
"""Prefixed to the module of a class made to stand for a learner's exception class."""


class WorkerGone(Exception):
    """The worker ended (the learner's code exited or crashed it, or a time limit stopped it)."""


class TrustedCodec(Codec):
    """The trusted side's references: handles back as refs, functions as callbacks."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def encode_other(self, value: object, depth: int) -> Any:
        """A handle or method of the worker's object goes back as its reference."""
        if isinstance(value, _Method):
            value = value.resolve()
        if isinstance(value, Handle):
            if value._worker is not self.worker or value._generation != self.worker.generation:
                raise CodecError("an object of an earlier worker cannot be passed (it is gone)")
            return tagged("ref", value._id)
        if isinstance(value, type) and issubclass(value, BaseException):
            return tagged("exception_class", class_info(value))
        if isinstance(value, Returns):
            return tagged(RETURNS, self.encode(value.value, depth + 1))
        if isinstance(value, Raises):
            return tagged(RAISES, {"class": class_info(value.kind), "message": value.message})
        adapted = self.worker.adapt(value)
        if adapted is not None:
            return adapted
        if callable(value):
            return tagged("callback", self.worker.register_callback(value))
        raise CodecError(
            f"a {type(value).__module__}.{type(value).__qualname__} cannot be passed to the "
            "learner's code: only plain values, functions and the fixtures' clients can"
        )

    def decode_tag(self, tag: str, payload: object, depth: int) -> Any:
        """A tagged value from the worker: a handle, an exception or its class."""
        if tag == "handle" and isinstance(payload, dict):
            return Handle(self.worker, payload)
        if tag == "exception_class" and isinstance(payload, dict):
            return self.worker.foreign.class_for(payload)
        return super().decode_tag(tag, payload, depth)


class Worker:
    """One worker process and its channel, seen from the trusted side."""

    def __init__(
        self,
        *,
        prefix: Sequence[str] = (),
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        python: Sequence[str] = (sys.executable, "-I", "-B"),
        describe_exit: Callable[[WorkerExit], str] = plain_description,
        fork: Callable[[socket.socket], WorkerProcess | None] | None = None,
    ) -> None:
        self.prefix = list(prefix)
        self.describe_exit = describe_exit
        """Says how the worker ended (a grader's launcher names the limit that ended it)."""
        self.fork = fork
        """Forks a worker serving on the given socket from a warm process (a grader's job
        slot), or gives None: the worker is then started as a child, as without it."""
        self.env = env
        self.cwd = cwd
        self.python = list(python)
        self.codec = TrustedCodec(self)
        self.foreign = ForeignExceptions(
            MODULE_PREFIX, resolve=_loaded_library_class, refuse=steers_the_harness
        )
        self.logs = LogBudget()
        self.generation = 0
        self.adapters: list[Callable[[object], dict[str, object] | None]] = []
        """Turn a fixture's client into a reference the worker can connect with."""
        self.process: WorkerProcess | None = None
        self.channel: Channel | None = None
        self._line: _Line | None = None
        self.gone: str | None = "not started"
        self.interrupted_by: BaseException | None = None
        """What stopped the trusted side's wait for a call that then ended the worker."""
        self._pending: dict[int, concurrent.futures.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.callbacks = TrustedCallbacks(self)
        self._released: list[int] = []
        self._logging_disabled = 0
        """The ``logging.disable`` level the worker was last told."""

    # --- life ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start a fresh worker process and wait until it serves."""
        self.stop()
        ours, theirs = socket.socketpair()
        try:
            forked = None if self.fork is None else self.fork(theirs)
            self.process = forked or self._started(theirs)
        finally:
            theirs.close()
        self.generation += 1
        self.interrupted_by = None
        self.logs = LogBudget()
        self._logging_disabled = 0
        self.channel = Channel(ours)
        self._line = line = _Line(self.channel, self.process, Turns(ours))
        self.gone = None
        ready: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            self._pending[0] = ready
        threading.Thread(target=self._read, args=(line,), name="worker-reader", daemon=True).start()
        try:
            ready.result(timeout=START_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            self.stop(f"the worker did not start within {START_TIMEOUT_S:g} s")
            raise WorkerGone(self.gone) from None

    def _started(self, theirs: socket.socket) -> ChildProcess:
        """A new worker process, a child of this one, serving on ``theirs``."""
        command = [*self.prefix, *self.python, "-m", WORKER_MODULE, str(theirs.fileno())]
        return ChildProcess(
            subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        )

    def stop(self, why: str = "stopped") -> None:
        """End the worker and everything it started; every waiting request fails."""
        if self._line is not None:  # first, so its reader leaves the pending requests alone
            self._line.turns.close()
            self._line = None
        if self.channel is not None:
            self.channel.close(why)
            self.channel = None
        self.callbacks.cancel_stranded()
        if self.process is not None:
            self.process.kill()
            self.process = None
        self._fail_pending(why)
        self.gone = why

    def exit_status(self) -> int | None:
        """The worker's exit status once it has ended, else None."""
        return None if self.process is None else self.process.poll()

    # --- requests --------------------------------------------------------------------------

    def request(self, op: str, **fields: Any) -> Any:
        """Send a request and wait for its answer (decoded), or raise what the worker raised."""
        line = self._line
        future = self._send(op, fields)
        try:
            return self._wait(future, line, op)
        except BaseException as error:
            if not future.done():  # interrupted (a time limit): the worker is stuck in the call
                self.interrupted_by = error
                self.stop(f"the worker was stopped while it served {op} ({type(error).__name__})")
            raise

    async def arequest(self, op: str, **fields: Any) -> Any:
        """:meth:`request` for a coroutine: awaits the answer without blocking the loop."""
        line = self._line
        number, future = self._send_numbered(op, fields)
        if line is not None:
            line.turns.want_reader()
        answer = asyncio.wrap_future(future)
        try:
            return await asyncio.shield(answer)
        except asyncio.CancelledError:
            if answer.done():
                raise
            return await self._cancel_request(op, number, answer)

    async def _cancel_request(self, op: str, number: int, answer: asyncio.Future[Any]) -> Any:
        """Cancel a coroutine of the worker's whose caller here was cancelled, as in one process.

        The learner's coroutine gets ``CancelledError`` there and runs its handlers; this
        waits (up to :data:`CANCEL_GRACE_S`) until it ends, then raises ``CancelledError``,
        or returns what it returned when it swallowed the cancellation. A worker that does
        not end it in time is stopped.
        """
        channel = self.channel
        if channel is not None:
            with contextlib.suppress(ChannelClosed, ValueError):
                channel.send({"op": protocol.CANCEL, "target": number})
        try:
            return await asyncio.wait_for(answer, CANCEL_GRACE_S)
        except TimeoutError:
            self.stop(f"the worker was stopped while it served {op} (cancelled, never ended)")
        except Exception:
            pass  # cancelled there too, or gone: the cancellation goes on here
        raise asyncio.CancelledError

    def release(self, handle: int) -> None:
        """Forget a handle (sent with the next request, in a batch)."""
        with self._lock:
            self._released.append(handle)

    def _send(self, op: str, fields: dict[str, Any]) -> concurrent.futures.Future[Any]:
        return self._send_numbered(op, fields)[1]

    def _send_numbered(
        self, op: str, fields: dict[str, Any]
    ) -> tuple[int, concurrent.futures.Future[Any]]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        channel = self.channel
        if channel is None or self.gone is not None:
            future.set_exception(WorkerGone(self.gone or "the worker is not running"))
            return 0, future
        with self._lock:
            number = next(self._ids)
            self._pending[number] = future
            released, self._released = self._released, []
        try:
            if released:
                channel.send({"op": protocol.RELEASE, "handles": released})
            channel.send(self._with_logging_level({"id": number, "op": op, **fields}))
        except (ChannelClosed, ValueError) as error:
            with self._lock:
                self._pending.pop(number, None)
            if not future.done():
                future.set_exception(
                    WorkerGone(str(error)) if isinstance(error, ChannelClosed) else error
                )
        return number, future

    def _wait(self, future: concurrent.futures.Future[Any], line: _Line | None, op: str) -> Any:
        """The answer: read from the channel by this thread when it gets the turn."""
        while not future.done():
            if line is None or not line.turns.take():
                return future.result()  # another thread reads, and hands it over
            try:
                self._read_until(future, line)
            except BaseException as error:
                if not future.done():  # interrupted, perhaps mid-frame: nobody reads on
                    self.interrupted_by = error  # stopping fails the future: say why first
                    self.stop(
                        f"the worker was stopped while it served {op} ({type(error).__name__})"
                    )
                raise
            finally:
                line.turns.give(others_wait=bool(self._pending))
        return future.result()

    def _with_logging_level(self, message: dict[str, Any]) -> dict[str, Any]:
        """``message`` with the checks' ``logging.disable`` level, when the worker needs it."""
        disabled = logging.root.manager.disable
        if disabled or disabled != self._logging_disabled:
            message[protocol.LOGGING_DISABLE] = disabled
            self._logging_disabled = disabled
        return message

    def _read_until(self, future: concurrent.futures.Future[Any], line: _Line) -> None:
        """Take messages (for any thread) until ``future`` is answered or the channel ends."""
        while not future.done():
            if not self._take_next(line):
                return

    def _read(self, line: _Line) -> None:
        """The reader thread of one worker generation: reads whenever no caller does."""
        try:
            while line.turns.reader_takes(self._requests_wait):
                try:
                    while line.turns.reader_may_read(block=self._requests_wait()):
                        if not self._take_next(line):
                            return
                finally:
                    line.turns.reader_gives()
        finally:
            line.turns.release()

    def _take_next(self, line: _Line) -> bool:
        """Read and take one message; False once the channel has ended."""
        try:
            message = line.channel.receive()
        except ChannelClosed as closed:
            self._ended(line, closed)
            return False
        self._take_or_close(line.channel, message)
        return True

    def _requests_wait(self) -> bool:
        return bool(self._pending)

    def _ended(self, line: _Line, closed: ChannelClosed) -> None:
        """The channel of ``line`` closed: fail what waits (once, and only its own).

        A generation that was stopped and replaced already failed its own requests: it
        must not touch the pending requests of the worker that replaced it.
        """
        if not line.turns.close() or self.channel is not line.channel:
            return
        why = f"the worker process ended ({closed}): {self.describe_exit(line.process.reap())}"
        if self.channel is line.channel:
            self.gone = why
            self._fail_pending(why)

    def _take_or_close(self, channel: Channel, message: dict[str, Any]) -> None:
        try:
            self._take(message)
        except Exception as error:  # anything out of shape, wherever it is found
            channel.close(f"the worker broke the protocol: {_short(error)}")

    def _take(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == protocol.READY:
            self._settle(0, lambda future: future.set_result(message))
        elif op == protocol.LOG:
            if self.logs.take():
                relog(message)
        elif op == protocol.CALLBACK:
            self.callbacks.run(message)
        elif op == protocol.CANCEL:
            self.callbacks.cancel(message.get("target"))
        elif "re" in message:
            number = message["re"]
            if not isinstance(number, int):
                raise CodecError("a reply needs the number of its request")
            self._settle(number, lambda future: self._resolve(future, message))
        else:
            raise CodecError(f"unexpected message {str(op)[:40]!r}")

    def _settle(
        self, number: int, action: Callable[[concurrent.futures.Future[Any]], None]
    ) -> None:
        with self._lock:
            future = self._pending.pop(number, None)
        if future is not None and not future.done():
            try:
                action(future)
            except Exception as error:  # the answer is out of shape: so is the channel
                if not future.done():
                    why = f"the worker broke the protocol: {_short(error)}"
                    future.set_exception(WorkerGone(why))
                raise

    def _resolve(self, future: concurrent.futures.Future[Any], reply: dict[str, Any]) -> None:
        error = reply.get("error")
        if isinstance(error, dict):
            args = self.codec.decode(error["args"]) if error.get("args") else None
            attrs = self.codec.decode(error.get("attrs") or {})
            if error.get("qualname") == "SolutionImportError":
                from pytest_tutorial.solution import SolutionImportError

                future.set_exception(SolutionImportError(str(error.get("message", ""))))
            else:
                future.set_exception(self.foreign.rebuild(error, args, attrs))
        else:
            future.set_result(self.codec.decode(reply.get("ok")))

    def _fail_pending(self, why: str) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(WorkerGone(why))

    # --- callbacks -------------------------------------------------------------------------

    def register_callback(self, function: Callable[..., Any]) -> dict[str, Any]:
        """A trusted function the worker may call (see :mod:`.callbacks`)."""
        return self.callbacks.register(function)

    def adapt(self, value: object) -> dict[str, object] | None:
        """A fixture client as a reference the worker can connect with, or None."""
        for adapter in self.adapters:
            adapted = adapter(value)
            if adapted is not None:
                return adapted
        return None


class _Line:
    """One worker generation's channel, process and turns to read it."""

    def __init__(self, channel: Channel, process: WorkerProcess, turns: Turns) -> None:
        self.channel = channel
        self.process = process
        self.turns = turns


def _short(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]


def _loaded_library_class(module: str, qualname: str) -> type[BaseException] | None:
    """A library's own exception class (redis, botocore...) when this side has loaded it.

    Never imports anything: the learner's modules are never loaded here, so only classes of
    libraries the checks themselves use can be found.
    """
    found: object = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found if isinstance(found, type) and issubclass(found, BaseException) else None
