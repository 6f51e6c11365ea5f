"""The worker's side of a load test: the template's N requests at concurrency C, timed here.

The worker times each call itself, where the channel's tenth of a millisecond is not in
the way, with the same runner as an in-process test (:mod:`pytest_tutorial.load`), and
answers every latency, grouped by the thread (or task) that made the call. The trusted side
believes those figures only as far as the time it observed allows (see
:mod:`pytest_tutorial.isolation.load_check`). ``name="__noop__"`` times a call that does
nothing: the harness' own cost, for that comparison.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from pytest_tutorial.isolation import protocol
from pytest_tutorial.isolation.codec import CodecError
from pytest_tutorial.load import run_load, run_load_async

NOOP = "__noop__"
MAX_REQUESTS = 100_000
SIZES = ("requests", "concurrency", "warmup")


def run_load_request(server: Any, target: Any, message: dict[str, Any]) -> dict[str, Any]:
    """Run the load test ``message`` describes against ``target`` (or its method ``name``)."""
    name = message.get("name")
    coroutine = bool(message.get("coroutine"))
    function: Any
    if name == NOOP:
        function = _anoop if coroutine else _noop
    else:
        function = target if name is None else getattr(target, protocol.checked_attribute(name))
    calls = calls_of(server.codec.decode(message.get("calls")))
    requests, concurrency, warmup = (whole(message.get(key)) for key in SIZES)
    if not 0 < requests <= MAX_REQUESTS:
        raise CodecError(f"a load test has between 1 and {MAX_REQUESTS} requests")
    cycle = itertools.cycle(calls)
    handler = getattr(server, "log_handler", None)
    if handler is not None:
        handler.paused.set()  # log lines of hundreds of calls are noise, not evidence
    try:
        if coroutine:

            async def acall() -> object:
                args, kwargs = next(cycle)
                return await function(*args, **kwargs)

            runner = run_load_async(
                acall, requests=requests, concurrency=concurrency, warmup=warmup
            )
            result = asyncio.run_coroutine_threadsafe(runner, server.loop).result()
        else:

            def call() -> object:
                args, kwargs = next(cycle)
                return function(*args, **kwargs)

            result = run_load(call, requests=requests, concurrency=concurrency, warmup=warmup)
    finally:
        if handler is not None:
            handler.paused.clear()
    return {
        "per_worker_ns": [list(samples) for samples in result.per_worker_ns],
        "errors": result.errors,
        "error_samples": list(result.error_samples),
        "wall_s": result.wall_s,
    }


def whole(value: object) -> int:
    """A count of a replay, checked to be a whole number."""
    if type(value) is not int:
        raise CodecError("a replay needs whole numbers of requests, concurrency and warm-up calls")
    return value


def calls_of(decoded: object) -> list[tuple[list[Any], dict[str, Any]]]:
    """The ``[args, kwargs]`` pairs of a replay, checked for form."""
    if not isinstance(decoded, list) or not decoded:
        raise CodecError("a replay needs a non-empty list of [args, kwargs] calls")
    calls = []
    for call in decoded:
        if not (isinstance(call, list | tuple) and len(call) == 2):
            raise CodecError("each call of a replay is [args, kwargs]")
        args, kwargs = call
        if not isinstance(args, list | tuple) or not isinstance(kwargs, dict):
            raise CodecError("each call of a replay is [args, kwargs]")
        calls.append((list(args), kwargs))
    return calls


def _noop(*args: object, **kwargs: object) -> None:
    return None


async def _anoop(*args: object, **kwargs: object) -> None:
    return None
