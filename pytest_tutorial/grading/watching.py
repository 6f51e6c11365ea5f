"""Watching one grading child: its output up to a cap, its result stream, its deadline.

The parent reads both pipes until the child has exited (and a short grace after, while a
grandchild may still hold them), the wall-clock limit runs out or the output passes its
cap; the stream's events go to the submission's :class:`~.results.StreamState`. Nothing
the child writes is trusted to be a report.
"""

from __future__ import annotations

import os
import selectors
import time

from . import results, stream, usage
from .results import OutcomeKind

EXIT_GRACE_S = 1.0
"""How long to keep reading after the child exited (a grandchild may hold the pipes)."""


class Capture:
    """The child's output up to a cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> bool:
        """Keep what fits; True once the total passed the cap."""
        self.total += len(chunk)
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        return self.total > self.limit


def watch(
    child: usage.Watched,
    output: int,
    stream_read: int,
    deadline: float,
    state: results.StreamState,
    capture: Capture,
    token: str,
) -> str:
    """Read output and stream until the child is gone; why it stopped (or was stopped)."""
    decoder = stream.StreamDecoder(token)
    selector = selectors.DefaultSelector()
    selector.register(output, selectors.EVENT_READ, "output")
    selector.register(stream_read, selectors.EVENT_READ, "stream")
    exited_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            child.sample()
            if now >= deadline:
                return OutcomeKind.TIMEOUT
            if child.poll() is not None:
                exited_at = exited_at or now
                if not selector.get_map() or now - exited_at > EXIT_GRACE_S:
                    return "exited"
            if not selector.get_map():
                time.sleep(min(0.05, deadline - now))
                continue
            for key, _ in selector.select(min(0.2, deadline - now)):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fd)
                elif key.data == "output":
                    if capture.add(data):
                        return OutcomeKind.OUTPUT_LIMIT
                else:
                    for event in decoder.feed(data):
                        state.apply(event)
    finally:
        selector.close()
        if decoder.rejected:
            state.note(f"{decoder.rejected} line(s) on the result stream were rejected")
        if decoder.overflow:
            state.note("the result stream overflowed; later lines were dropped")
