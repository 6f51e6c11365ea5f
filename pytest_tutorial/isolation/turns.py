"""Who reads the trusted side's end of a worker's channel: a waiting caller, or the reader.

A thread that sends a request and waits alone reads its own reply (leader and followers),
so a call costs no hand-over between threads. The reader thread takes the turn only when
no caller holds it and something is to be read: a message that came between calls (a log
record, a callback from a thread of the learner's), or the answer to a request nobody
reads for (a coroutine's, or a caller's whose leader got its own answer first). While no
caller holds the turn it waits for data with ``poll`` on the channel, without the turn, so
a caller takes the turn at once; while a caller holds it, the reader sleeps (and looks
again every :data:`IDLE_S`), so a loop of calls seldom wakes it. Only the thread holding
the turn calls :meth:`Channel.receive`.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable

IDLE_S = 0.002
"""How often the reader looks whether a caller gave the turn up (a message that comes just
after is read this late at most)."""
_CALLER, _READER = "caller", "reader"
_EVENTS = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


class Turns:
    """The turn to read one channel (one worker generation)."""

    def __init__(self, sock: socket.socket) -> None:
        self._state = threading.Condition()
        self._owner: str | None = None
        self._yield_asked = False
        self._handed = False
        """The reader gave the turn up to the callers that asked; none has taken it yet."""
        self._closed = False
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._wake_out.setblocking(False)
        self._poll = select.poll()
        self._channel_fd = sock.fileno()
        self._poll.register(self._channel_fd, _EVENTS)
        self._poll.register(self._wake_in.fileno(), select.POLLIN)

    # --- callers ---------------------------------------------------------------------------

    def take(self) -> bool:
        """Take the turn (True), unless another caller holds it or the channel is done.

        The reader, if it holds the turn, is woken and gives it up.
        """
        with self._state:
            while True:
                if self._handed:  # the reader gave it up for a caller: the first awake takes it
                    self._handed = False
                    return True
                if self._closed or self._owner == _CALLER:
                    return False
                if self._owner is None:
                    self._owner = _CALLER
                    return True
                if not self._yield_asked:
                    self._yield_asked = True
                    self._wake()
                self._state.wait()

    def give(self, *, others_wait: bool) -> None:
        """Give the turn back; the reader takes it at once when ``others_wait``."""
        with self._state:
            self._owner = None
            self._handed = False
            if others_wait:
                self._state.notify_all()

    def want_reader(self) -> None:
        """A request was sent that no caller will read for (a coroutine's): wake the reader."""
        with self._state:
            if self._owner is None:
                self._state.notify_all()
                self._wake()

    # --- the reader thread -----------------------------------------------------------------

    def reader_takes(self, requests_wait: Callable[[], bool]) -> bool:
        """Wait until the reader should read and take the turn (True), or the end (False).

        It should when no caller holds the turn and a message is there, or a request waits.
        """
        while True:
            with self._state:
                while not self._closed and self._owner is not None:
                    self._state.wait(IDLE_S)
                if self._closed:
                    return False
                if requests_wait():
                    self._owner = _READER
                    return True
            self._wait_for_data(None)
            with self._state:
                if self._closed:
                    return False
                if self._owner is None:
                    self._owner = _READER
                    return True

    def reader_may_read(self, *, block: bool) -> bool:
        """Whether the reader, holding the turn, reads a message now (one is there).

        Waits for one when ``block`` (requests wait), else only looks. False when a caller
        asked for the turn or the channel is done: the reader then gives the turn up.
        """
        ready = self._wait_for_data(None if block else 0)
        with self._state:
            if self._yield_asked or self._closed:
                return False
        return ready

    def reader_gives(self) -> None:
        """The reader is done reading for now: to the caller that asked, else to nobody."""
        with self._state:
            self._handed = self._yield_asked and not self._closed
            self._owner = _CALLER if self._handed else None
            self._yield_asked = False
            self._state.notify_all()

    def _wait_for_data(self, timeout_ms: int | None) -> bool:
        """Poll the channel and the wake-up socket: whether the channel has data."""
        channel_ready = False
        for fd, _ in self._poll.poll(timeout_ms):
            if fd == self._channel_fd:
                channel_ready = True
            else:
                with contextlib.suppress(OSError):
                    self._wake_in.recv(64)
        return channel_ready

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_out.send(b"!")

    # --- the end ---------------------------------------------------------------------------

    def close(self) -> bool:
        """End the turns (the channel closed): True for the first call only."""
        with self._state:
            if self._closed:
                return False
            self._closed = True
            self._wake()
            self._state.notify_all()
            return True

    def release(self) -> None:
        """Close the wake-up sockets (the reader thread, as it ends)."""
        self.close()
        with self._state:
            self._wake_in.close()
            self._wake_out.close()
