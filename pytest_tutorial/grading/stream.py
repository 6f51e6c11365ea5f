"""The result stream: one JSON line per event, from the grading child to the parent.

The child registers :class:`Streamer` with pytest. It writes to an inherited pipe:
``hello`` when it starts, ``collected`` (every check's spec) once collection is over and
before any submission code has run, ``start`` when a check begins, ``result`` as soon as
a check has finished, and ``done`` at the end. The parent decodes the lines with
:class:`StreamDecoder`; whatever arrived before the child hung or died still counts.

A check's status is judged from what the check itself raised (seen by hook wrappers
around setup, call and teardown, and by whether the check's body ran to its end), not
from pytest's report objects, so a submission that patches pytest's reporting cannot
turn a failure into a pass. Every line carries a token the child read from a private
pipe at start-up, and the parent drops lines without it. Code sharing the process with
these hooks can still find the token or patch them: see ``docs/ci.md``. So the decoder
treats every line as hostile: decoding cannot fail, and what it passes on is bounded and
safe to write anywhere (:mod:`.untrusted`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_tutorial.check_status import bounded_message, status_of
from pytest_tutorial.scoring import Status

from . import untrusted

HELLO = "hello"
COLLECTED = "collected"
START = "start"
RESULT = "result"
DONE = "done"
FATAL = "fatal"
EVENTS = frozenset({HELLO, COLLECTED, START, RESULT, DONE, FATAL})
MAX_LINE = 512 * 1024
MAX_STREAM = 32 * 1024 * 1024


def encode(token: str, event: str, **fields: Any) -> bytes:
    """One line of the stream."""
    line = json.dumps({"token": token, "event": event, **fields}, default=str)
    return line.encode("utf-8", errors="replace") + b"\n"


def write_all(fd: int, data: bytes) -> bool:
    """Write every byte to ``fd``; False when the reader has gone."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError:
            return False
        view = view[written:]
    return True


@dataclass
class _Check:
    """What the hook wrappers saw of one check."""

    started: float
    errors: dict[str, BaseException] = field(default_factory=dict)
    body_finished: bool = False
    message: str = ""
    load: Any = None
    timed_out: bool = False
    """The session judged it a timeout (a time limit stopped a call in the worker)."""


class Streamer:
    """The pytest plugin in the grading child that streams each check's verdict."""

    def __init__(
        self, fd: int, token: str, *, after_collection: Callable[[], None] | None = None
    ) -> None:
        from pytest_tutorial.session import (
            LOAD_PROPERTY,
            MESSAGE_PROPERTY,
            SESSION_KEY,
            STATUS_PROPERTY,
        )

        self._fd = fd
        self._token = token
        self._after_collection = after_collection
        self._session_key = SESSION_KEY
        self._message_property = MESSAGE_PROPERTY
        self._load_property = LOAD_PROPERTY
        self._status_property = STATUS_PROPERTY
        self._deselected: list[str] = []
        self._checks: dict[str, _Check] = {}

    def emit(self, event: str, **fields: Any) -> None:
        """Send one event; a parent that stopped listening is not the child's problem."""
        write_all(self._fd, encode(self._token, event, **fields))

    # --- collection ----------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        """Remember the checks a ``-k`` selection left out."""
        self._deselected.extend(item.nodeid for item in items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Let the child seal itself, then report the checks.

        First of all ``pytest_collection_finish`` hooks, because others may already start
        work that runs submission code (the learner's own tests). ``collected`` is sent
        only once sealing worked, so the parent knows the checks ran sealed.
        """
        tutorial_session = session.config.stash.get(self._session_key, None)
        specs = tutorial_session.specs if tutorial_session is not None else {}
        selected = [item.nodeid for item in session.items]
        checks = [spec.to_property() for spec in specs.values()]
        if self._after_collection is not None:
            self._after_collection()
        self.emit(COLLECTED, checks=checks, selected=selected, deselected=self._deselected)

    # --- running -------------------------------------------------------------------------

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        """Send ``start``: from now on a crash or hang is this check's."""
        self._checks[nodeid] = _Check(started=time.perf_counter())
        self.emit(START, nodeid=nodeid)

    def _phase(self, item: pytest.Item, when: str) -> Generator[None, None, None]:
        try:
            yield
        except BaseException as error:
            check = self._checks.get(item.nodeid)
            if check is not None:
                check.errors.setdefault(when, error)
            raise

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        """Record what the setup raised."""
        return (yield from self._phase(item, "setup"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """Record what the check's call raised."""
        return (yield from self._phase(item, "call"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        """Record what the teardown raised."""
        return (yield from self._phase(item, "teardown"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
        """Evidence that the check's own body ran to its end (not skipped by a patch)."""
        result = yield
        check = self._checks.get(pyfuncitem.nodeid)
        if check is not None:
            check.body_finished = True
        return result

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep the session's message and load-test figures for the check."""
        check = self._checks.get(report.nodeid)
        if check is None:
            return
        properties = dict(report.user_properties)
        if not check.message and properties.get(self._message_property):
            check.message = str(properties[self._message_property])
        if properties.get(self._status_property) == Status.TIMEOUT.value:
            check.timed_out = True
        if report.when == "call" and self._load_property in properties:
            check.load = properties[self._load_property]

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        """Send the check's ``result``, judged from what it raised."""
        check = self._checks.pop(nodeid, None)
        if check is None:
            return
        status, message = self._verdict(check)
        self.emit(
            RESULT,
            nodeid=nodeid,
            status=status,
            message=message,
            duration_s=round(time.perf_counter() - check.started, 6),
            load=check.load,
        )

    def _verdict(self, check: _Check) -> tuple[str, str]:
        """(status, message) from what the check raised, phase by phase."""
        for when in ("setup", "call", "teardown"):
            error = check.errors.get(when)
            if error is None:
                continue
            status = status_of(error, when)
            if status is Status.SKIPPED:
                return status.value, str(error)
            if check.timed_out:  # only ever turns a verdict of 0 points into another
                status = Status.TIMEOUT
            return status.value, bounded_message(check.message or _describe(error), when)
        if not check.body_finished:
            return "failed", "the check's body never ran to its end (was pytest patched?)"
        return "passed", ""


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class StreamDecoder:
    """Parent side: bytes from the pipe in, well-formed events carrying the token out.

    Bounded: an over-long line or a stream past :data:`MAX_STREAM` is dropped and counted,
    so a submission writing to the pipe cannot exhaust the parent.
    """

    def __init__(self, token: str) -> None:
        self.token = token
        self.rejected = 0
        self.overflow = False
        self._buffer = bytearray()
        self._total = 0

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """The complete events in ``data`` (plus what was buffered)."""
        self._total += len(data)
        if self._total > MAX_STREAM:
            self.overflow = True
            return []
        self._buffer += data
        events = []
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            event = self._decode(line)
            if event is not None:
                events.append(event)
        if len(self._buffer) > MAX_LINE:
            self._buffer.clear()
            self.rejected += 1
        return events

    def _decode(self, line: bytes) -> dict[str, Any] | None:
        if len(line) > MAX_LINE:
            self.rejected += 1
            return None
        try:
            # RecursionError: nesting thousands deep; ValueError: not JSON, or an integer
            # longer than Python converts.
            decoded = json.loads(line)
        except (ValueError, RecursionError):
            self.rejected += 1
            return None
        if not isinstance(decoded, dict) or decoded.get("token") != self.token:
            self.rejected += 1
            return None
        event = untrusted.clean(decoded)
        kind = event.get("event") if isinstance(event, dict) else None
        if not isinstance(event, dict) or not isinstance(kind, str) or kind not in EVENTS:
            self.rejected += 1
            return None
        return event
