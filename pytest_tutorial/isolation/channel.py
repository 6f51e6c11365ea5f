"""Length-prefixed JSON frames over a stream socket, bounded, never trusted.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON holding
one object. Both sides send from many threads (a lock keeps frames whole) and read from one
reader thread. Anything out of shape (a length past :data:`MAX_FRAME`, bytes that are not
JSON, nesting deeper than the decoder can take, a value that is not an object) closes the
channel for good: once a frame boundary is in doubt, no later byte can be believed.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
from typing import Any, NoReturn

MAX_FRAME = 32 * 1024 * 1024
"""The largest frame either side accepts (a load test's latencies fit many times over)."""
_HEADER = struct.Struct(">I")
_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
_DECODER = json.JSONDecoder()
"""Made once: ``json.dumps`` with options builds an encoder per call (a call sends two
messages, and a round trip's budget is tens of microseconds)."""


class ChannelClosed(Exception):
    """The other side is gone, or sent something that ended the channel; says which."""


class Channel:
    """One end of a framed channel over a connected stream socket."""

    def __init__(self, sock: socket.socket, *, max_frame: int = MAX_FRAME) -> None:
        self.sock = sock
        self.max_frame = max_frame
        self._send_lock = threading.Lock()
        self._closed: str | None = None

    @property
    def closed(self) -> str | None:
        """Why the channel closed, or None while it is open."""
        return self._closed

    def send(self, message: dict[str, Any]) -> None:
        """Send one message; raises :class:`ChannelClosed` when the channel cannot carry it."""
        if self._closed is not None:
            raise ChannelClosed(self._closed)
        try:
            data = _ENCODER.encode(message).encode()
        except (TypeError, ValueError, RecursionError) as error:
            raise ValueError(f"not a message the channel can carry: {error}") from None
        if len(data) > self.max_frame:
            raise ValueError(f"a message of {len(data)} bytes is over the {self.max_frame} cap")
        with self._send_lock:
            try:
                self.sock.sendall(_HEADER.pack(len(data)) + data)
            except OSError as error:
                if _raised_by_a_handler(error):
                    raise
                self.close(f"the other side is gone ({error.strerror or error})")
                raise ChannelClosed(self._closed or "closed") from None

    def receive(self) -> dict[str, Any]:
        """The next message; raises :class:`ChannelClosed` at the end or on anything invalid."""
        if self._closed is not None:
            raise ChannelClosed(self._closed)
        header = self._exactly(_HEADER.size)
        (length,) = _HEADER.unpack(header)
        if length > self.max_frame:
            self._fail(f"a frame of {length} bytes is over the {self.max_frame} cap")
        data = self._exactly(length)
        try:
            message = _DECODER.decode(data.decode())
        except (ValueError, RecursionError) as error:
            self._fail(f"a frame is not JSON ({type(error).__name__})")
        if not isinstance(message, dict):
            self._fail(f"a frame holds a {type(message).__name__}, not an object")
        return message

    def close(self, why: str = "closed") -> None:
        """Close for good; later sends and receives raise :class:`ChannelClosed` with ``why``."""
        if self._closed is None:
            self._closed = why
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def _exactly(self, count: int) -> bytes:
        chunks: list[bytes] = []
        missing = count
        while missing:
            try:
                chunk = self.sock.recv(min(missing, 1024 * 1024))
            except OSError as error:
                if _raised_by_a_handler(error):
                    raise
                self._fail(f"the other side is gone ({error.strerror or error})")
            if not chunk:
                self._fail("the other side closed the channel")
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def _fail(self, why: str) -> NoReturn:
        self.close(why)
        raise ChannelClosed(why)


def _raised_by_a_handler(error: OSError) -> bool:
    """Whether a signal handler raised ``error`` (a check's time limit), not the socket.

    A waiting caller reads the channel itself, so a ``TimeoutError`` of a time limit can
    surface from ``recv``; it must reach the check as itself. A socket's own errors carry
    an errno.
    """
    return error.errno is None
