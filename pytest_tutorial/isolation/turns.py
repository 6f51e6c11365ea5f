"""Who reads the trusted side's end of a worker's channel: a waiting caller, or the reader.

A thread that sends a request and waits alone reads its own reply (leader and followers),
so a call costs no hand-over between threads. The reader thread takes the turn when no
caller holds it: at once when a request waits with nobody reading for it (a coroutine's,
or a caller's whose leader got its own reply first), else once the channel has been left
unread for :data:`IDLE_S`, so log records and callbacks that come between calls are still
taken. The reader waits for data with ``poll`` on the channel and on a wake-up socket, so
a caller that wants the turn can take it from the reader without waiting for a message.
Only the thread holding the turn calls :meth:`Channel.receive`.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable

IDLE_S = 0.05
"""How long the channel is left to callers after one gave the turn up before the reader
takes it (a loop of calls never wakes the reader)."""
_CALLER, _READER = "caller", "reader"
_EVENTS = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


class Turns:
    """The turn to read one channel (one worker generation)."""

    def __init__(self, sock: socket.socket) -> None:
        self._state = threading.Condition()
        self._owner: str | None = None
        self._given_at = 0.0
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
                    with contextlib.suppress(OSError):
                        self._wake_out.send(b"!")
                self._state.wait()

    def give(self, *, others_wait: bool) -> None:
        """Give the turn back; the reader takes it at once when ``others_wait``."""
        with self._state:
            self._owner = None
            self._handed = False
            self._given_at = time.monotonic()
            if others_wait:
                self._state.notify_all()

    def want_reader(self) -> None:
        """A request was sent that no caller will read for (a coroutine's): wake the reader."""
        with self._state:
            if self._owner is None:
                self._state.notify_all()

    # --- the reader thread -----------------------------------------------------------------

    def reader_waits(self, requests_wait: Callable[[], bool]) -> bool:
        """Wait until the reader should read (True, it holds the turn) or the channel is done."""
        with self._state:
            while not self._closed:
                if self._owner is None:
                    idle = time.monotonic() - self._given_at
                    if idle >= IDLE_S or requests_wait():
                        self._owner = _READER
                        return True
                    self._state.wait(IDLE_S - idle)
                else:
                    self._state.wait(IDLE_S)
            return False

    def reader_polls(self) -> bool:
        """Wait for a message (True) or a caller that wants the turn (False: given up)."""
        while True:
            ready = self._poll.poll()
            channel_ready = False
            for fd, _ in ready:
                if fd == self._channel_fd:
                    channel_ready = True
                else:
                    with contextlib.suppress(OSError):
                        self._wake_in.recv(64)
            with self._state:
                if self._yield_asked or self._closed:
                    self._handed = self._yield_asked and not self._closed
                    self._owner = _CALLER if self._handed else None
                    self._yield_asked = False
                    self._state.notify_all()
                    return False
            if channel_ready:
                return True

    # --- the end ---------------------------------------------------------------------------

    def close(self) -> bool:
        """End the turns (the channel closed): True for the first call only."""
        with self._state:
            if self._closed:
                return False
            self._closed = True
            with contextlib.suppress(OSError):
                self._wake_out.send(b"!")
            self._state.notify_all()
            return True

    def release(self) -> None:
        """Close the wake-up sockets (the reader thread, as it ends)."""
        self.close()
        with self._state:
            self._wake_in.close()
            self._wake_out.close()
