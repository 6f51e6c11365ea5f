"""How the worker describes one of its objects to the trusted side.

The trusted side stands in for a learner's object with a handle
(:class:`~pytest_tutorial.isolation.handles.Handle`); the description says what the handle
must do without another request: whether the object is a class, module, function or plain
object, whether calling it gives a coroutine, and which methods can be called by name.
"""

from __future__ import annotations

import inspect
from typing import Any

from pytest_tutorial.isolation import protocol


def describe(value: object, handle: int) -> dict[str, Any]:
    """What the trusted side needs to stand in for ``value``."""
    kind = "object"
    if inspect.isclass(value):
        kind, owner = "class", value
    elif inspect.ismodule(value):
        kind, owner = "module", type(value)
    elif inspect.isroutine(value):
        kind, owner = "function", type(value)
    else:
        owner = type(value)
    named = value if kind in ("class", "function", "module") else owner
    return {
        "id": handle,
        "kind": kind,
        "type": getattr(named, "__qualname__", getattr(named, "__name__", type(value).__name__)),
        "module": getattr(named, "__module__", "") or "",
        "callable": callable(value),
        "coroutine": _is_coroutine_function(value),
        "coroutines": _coroutine_methods(value if kind == "class" else owner),
        "methods": _methods(value) if kind in ("object", "module") else [],
        **_names(value, kind),
    }


DOC_LIMIT = 4000


def _names(value: object, kind: str) -> dict[str, Any]:
    """A class's or function's name, docstring and signature, read once, as plain data.

    A check reads ``__name__``/``__doc__`` (``functools.wraps`` kept them?) and
    ``inspect.signature`` (a default the tutorial asks for) without a request each.
    """
    if kind not in ("class", "function"):
        return {}
    doc = getattr(value, "__doc__", None)
    return {
        "name": str(getattr(value, "__name__", "")),
        "qualname": str(getattr(value, "__qualname__", "")),
        "doc": doc[:DOC_LIMIT] if isinstance(doc, str) else None,
        "signature": _signature(value),
        "wrapped": hasattr(value, "__wrapped__"),
    }


def _signature(value: object) -> list[dict[str, Any]] | None:
    """The parameters: name, kind and default (plain, or the default's repr), or None."""
    from pytest_tutorial.isolation.codec import Codec, CodecError

    try:
        parameters = inspect.signature(value).parameters.values()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    described = []
    for parameter in parameters:
        entry: dict[str, Any] = {"name": parameter.name, "kind": int(parameter.kind)}
        if parameter.default is not inspect.Parameter.empty:
            try:
                entry["default"] = Codec().encode(parameter.default)
            except (CodecError, RecursionError):
                entry["default_repr"] = repr(parameter.default)[:200]
        described.append(entry)
    return described


def _is_coroutine_function(value: object) -> bool:
    try:
        return inspect.iscoroutinefunction(value) or inspect.iscoroutinefunction(
            type(value).__call__ if callable(value) else None
        )
    except Exception:
        return False


def _methods(value: object) -> list[str]:
    """Public functions of an object's class, or of a module: called by name in one request."""
    members = list(vars(value).items()) if inspect.ismodule(value) else _class_members(type(value))
    names = []
    for name, member in members:
        if protocol.allowed_attribute(name) and not name.startswith("__"):
            function = getattr(member, "__func__", member)
            if inspect.isfunction(function) and not inspect.iscoroutinefunction(function):
                names.append(name)
    return names


def _class_members(owner: type) -> list[tuple[str, object]]:
    members: dict[str, object] = {}
    for cls in reversed(owner.__mro__[:-1]):  # object's own methods are not the learner's
        members.update(vars(cls))
    return list(members.items())


def _coroutine_methods(owner: object) -> list[str]:
    names = []
    for name in dir(owner):
        if protocol.allowed_attribute(name):
            try:
                member = inspect.getattr_static(owner, name)
            except AttributeError:
                continue
            member = getattr(member, "__func__", member)
            if inspect.iscoroutinefunction(member):
                names.append(name)
    return names
