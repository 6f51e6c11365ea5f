"""Progress of a batch: a bar redrawn in place on a terminal, one line per submission otherwise."""

from __future__ import annotations

import time
from typing import TextIO

BAR_WIDTH = 28


class Progress:
    """Shows how many submissions are graded; CI logs get a plain line per submission."""

    def __init__(self, total: int, stream: TextIO, *, tty: bool | None = None) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.done = 0
        self.running = 0
        self.started = time.monotonic()

    def begin(self) -> None:
        """A submission started grading."""
        self.running += 1
        self._draw()

    def finish(self, ident: str, line: str) -> None:
        """A submission is graded; ``line`` says how it went."""
        self.running -= 1
        self.done += 1
        if self.tty:
            self.stream.write(f"\r\x1b[2K{ident}: {line}\n")
            self._draw()
        else:
            self.stream.write(f"[{self.done}/{self.total}] {ident}: {line}\n")
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.tty:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()

    def _draw(self) -> None:
        if not self.tty:
            return
        filled = BAR_WIDTH * self.done // max(self.total, 1)
        elapsed = time.monotonic() - self.started
        eta = ""
        if self.done:
            left = elapsed / self.done * (self.total - self.done)
            eta = f" · about {left:.0f} s left"
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(
            f"\r\x1b[2K[{bar}] {self.done}/{self.total} graded · {self.running} running{eta}"
        )
        self.stream.flush()
