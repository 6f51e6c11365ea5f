"""The worker's side of :func:`pytest_tutorial.memory.allocations_after`: calls replayed here.

The trusted side records the calls a check would make one by one and sends them in one
request; the worker makes them in order, the warm-up ones first, then the measured ones under
``tracemalloc``, and answers the bytes the solution's files still hold. Made from the trusted
side, each call would cross the channel (and its callbacks back), and the tracer would
count the channel's work in the worker too: 600 calls took a second that way. An exception
of the classes the check expects ends that call only; any other ends the replay and reaches
the check as the learner's error, as the call made from there would have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_tutorial.isolation import protocol
from pytest_tutorial.isolation.codec import CodecError
from pytest_tutorial.isolation.worker_load import MAX_REQUESTS, calls_of, whole
from pytest_tutorial.memory import held_after_calls, plain_call


def replay_under_tracing(server: Any, message: dict[str, Any]) -> int:
    """Make the calls ``message`` lists on its target; the bytes the measured ones left held."""
    target = server.codec.resolve(message.get("target"))
    name = message.get("name")
    function = target if name is None else getattr(target, protocol.checked_attribute(name))
    calls = calls_of(server.codec.decode(message.get("calls")))
    warmup = whole(message.get("warmup"))
    if not 0 <= warmup < len(calls) <= MAX_REQUESTS:
        raise CodecError(f"a replay has 1 to {MAX_REQUESTS} calls, the warm-up ones among them")
    expected = message.get("expected")
    if not isinstance(expected, list) or not all(isinstance(info, dict) for info in expected):
        raise CodecError("the expected exceptions of a replay are a list of classes")
    tolerated = tuple(server.foreign.class_for(info) for info in expected)
    pending = iter(calls)

    def call() -> object:
        args, kwargs = next(pending)
        return plain_call(function, args, kwargs)

    folder = Path(str(message.get("folder")))
    return held_after_calls(call, warmup, len(calls) - warmup, folder, tolerated)
