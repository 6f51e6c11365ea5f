"""The messages of the channel between the trusted process and a worker.

A request is ``{"id": N, "op": NAME, ...}``; its answer is ``{"re": N, "ok": value}`` or
``{"re": N, "error": {...}}``. Each side numbers its own requests, and only ever answers
the other's, so a reply is always to a request of the side that receives it. Requests
travel both ways: the trusted side asks the worker to import, get attributes, call, run a
load test; the worker asks the trusted side to run a callback (a function a check passed to
the learner's code) and tells it about log records.
"""

from __future__ import annotations

# Trusted side -> worker.
IMPORT = "import"
"""Import the solution: ``folder``, ``module``, ``exports``; answers the module's handle."""
GETATTR = "getattr"
"""``target`` (a handle id) and ``name``: the attribute's value."""
CALL = "call"
"""``target``, ``name`` (None: call the target itself), ``args``, ``kwargs``."""
UNARY = "unary"
"""``target`` and ``what``: one of :data:`UNARY_OPERATIONS` applied to the object."""
LOAD = "load"
"""Run a load test inside the worker: see :mod:`pytest_tutorial.isolation.worker`."""
CLOCK = "clock"
"""``clock`` (an id), ``offset``, ``frozen``: a check's fake clock moved (:mod:`.clock_bridge`)."""
MEMORY = "memory"
"""``action`` start (with ``folder``), grown or stop: trace the learner's allocations here;
or ``replay``: make recorded calls, then answer what they left held (:mod:`.worker_memory`)."""
RELEASE = "release"
"""``handles``: forget these handles (no answer)."""
LOGGING_DISABLE = "logging_disable"
"""A field of a request, while the checks' ``logging.disable`` level is set and once after it
changes: the worker follows it, so the learner's code logs as it would in one process."""

# Worker -> trusted side.
READY = "ready"
"""Sent once the worker serves (no answer): ``pid``, ``python``."""
CALLBACK = "callback"
"""``target`` (a callback id), ``args``, ``kwargs``: run the trusted function."""
CANCEL = "cancel"
"""``target`` (the number of a callback request): its caller was cancelled (no answer)."""
LOG = "log"
"""A log record of the learner's code (no answer): ``name``, ``level``, ``message``."""

UNARY_OPERATIONS = ("iter", "next", "aiter", "anext", "len", "bool", "repr", "str")
"""What a handle supports besides attributes and calls (no ``==``: it could lie)."""
NO_REPLY = frozenset({RELEASE, READY, LOG, CANCEL})
PRIVATE_PREFIX = "_"
"""Attributes the trusted side may not read or call on the learner's objects."""
ALLOWED_DUNDERS = frozenset({"__name__", "__qualname__", "__doc__", "__module__", "__wrapped__"})
"""The few private-looking attributes a check may read (a decorator keeps them)."""


def allowed_attribute(name: str) -> bool:
    """Whether a check may read or call this attribute of a learner's object."""
    return not name.startswith(PRIVATE_PREFIX) or name in ALLOWED_DUNDERS


def checked_attribute(name: object) -> str:
    """``name`` if a check may read or call it; AttributeError otherwise (the worker's side)."""
    if not isinstance(name, str) or not allowed_attribute(name):
        raise AttributeError(f"the checks may not use the attribute {name!r}")
    return name
