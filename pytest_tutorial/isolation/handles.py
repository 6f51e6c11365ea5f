"""Handles: the trusted side's stand-ins for the worker's objects.

A :class:`Handle` forwards attribute reads, calls, iteration and ``await`` to the object
it stands for in the worker (:class:`~pytest_tutorial.isolation.remote.Worker`); its
equality is identity, so an object of the learner's can never claim to equal anything.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import TYPE_CHECKING, Any

from pytest_tutorial.isolation import protocol

if TYPE_CHECKING:
    from pytest_tutorial.isolation.remote import Worker

RECORDING = threading.local()
"""``RECORDING.calls``, when a list, takes calls instead of sending them (see :mod:`.replay`)."""


def _recorded(
    target: Handle, name: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> bool:
    calls = getattr(RECORDING, "calls", None)
    if calls is None:
        return False
    calls.append((target, name, args, kwargs))
    return True


class Handle:
    """One object of the worker's: attributes, calls, iteration and ``await`` forwarded."""

    def __init__(self, worker: Worker, description: dict[str, Any]) -> None:
        self._worker = worker
        self._generation = worker.generation
        self._id = int(description.get("id", 0))
        self._kind = str(description.get("kind", "object"))
        self._type = str(description.get("type", "object"))
        self._module = str(description.get("module", ""))
        self._callable = bool(description.get("callable"))
        self._coroutine = bool(description.get("coroutine"))
        self._coroutines = frozenset(str(n) for n in description.get("coroutines") or [])
        self._methods = frozenset(str(n) for n in description.get("methods") or [])
        self._signature = description.get("signature")
        self._wrapped = bool(description.get("wrapped", True))
        if "name" in description:  # a class or function: read without a request
            self.__name__ = str(description["name"])
            self.__qualname__ = str(description.get("qualname") or self.__name__)
            doc = description.get("doc")
            self.__doc__ = doc if isinstance(doc, str) else None

    @property
    def __signature__(self) -> inspect.Signature | None:
        """The learner's signature, rebuilt from plain data (for ``inspect.signature``).

        Defaults that are not plain values stand as their repr.
        """
        if not isinstance(self._signature, list):
            return None
        return rebuilt_signature(self._signature)

    @property
    def __tutorial_remote_type__(self) -> str:
        """The learner's type, for messages: ``cache_service.CacheService``."""
        return f"{self._module}.{self._type}" if self._module else self._type

    def __repr__(self) -> str:
        what = "class" if self._kind == "class" else f"{self._kind}"
        return f"<{self.__tutorial_remote_type__} {what} in the worker>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or not protocol.allowed_attribute(name):
            if name == "__wrapped__" and not self._wrapped:  # known: inspect asks every time
                raise AttributeError(name)
            if name in protocol.ALLOWED_DUNDERS:
                return self._worker.request(protocol.GETATTR, target=self._id, name=name)
            raise AttributeError(f"a check cannot use {name!r} of the learner's objects")
        if name in self._coroutines:
            return _Method(self, name, coroutine=True)
        if name in self._methods:
            return _Method(self, name, coroutine=False)
        return self._worker.request(protocol.GETATTR, target=self._id, name=name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the object in the worker (an awaitable for a coroutine function)."""
        if _recorded(self, None, args, kwargs):
            return None
        if self._coroutine:
            return _kept(
                self, self._worker.arequest(protocol.CALL, **self._call(None, args, kwargs))
            )
        return self._worker.request(protocol.CALL, **self._call(None, args, kwargs))

    def by_reference(self, *args: Any, **kwargs: Any) -> Any:
        """Call it; the result comes back as a handle (see :meth:`_Method.by_reference`)."""
        fields = self._call(None, args, kwargs)
        return self._worker.request(protocol.CALL, by_reference=True, **fields)

    def _call(self, name: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        codec = self._worker.codec
        return {
            "target": self._id,
            "name": name,
            "args": codec.encode(list(args)),
            "kwargs": codec.encode(kwargs),
        }

    def __iter__(self) -> Iterator[Any]:
        iterator = self._worker.request(protocol.UNARY, target=self._id, what="iter")
        while True:
            step = self._worker.request(protocol.UNARY, target=iterator._id, what="next")
            if step.get("done"):
                return
            yield step.get("value")

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._async_items()

    async def _async_items(self) -> AsyncIterator[Any]:
        iterator = await self._worker.arequest(protocol.UNARY, target=self._id, what="aiter")
        while True:
            step = await self._worker.arequest(protocol.UNARY, target=iterator._id, what="anext")
            if step.get("done"):
                return
            yield step.get("value")

    def __len__(self) -> int:
        return int(self._worker.request(protocol.UNARY, target=self._id, what="len"))

    def __bool__(self) -> bool:
        return bool(self._worker.request(protocol.UNARY, target=self._id, what="bool"))

    def __del__(self) -> None:
        try:
            if self._worker.generation == self._generation:
                self._worker.release(self._id)
        except Exception:
            pass


async def _kept(alive: object, request: Coroutine[Any, Any, Any]) -> Any:
    """Await ``request``, holding ``alive`` (the handles it names) until it is answered.

    A coroutine method's request is sent when first awaited; a handle dropped in between
    (``await make().process(items)``) would otherwise be released before the call.
    """
    try:
        return await request
    finally:
        del alive


class _Shown:
    """A default that is no plain value: stands for it by its repr."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def rebuilt_signature(parameters: list[Any]) -> inspect.Signature | None:
    """An :class:`inspect.Signature` from the worker's description of one."""
    from pytest_tutorial.isolation.codec import Codec, CodecError

    rebuilt = []
    try:
        for entry in parameters:
            default: Any = inspect.Parameter.empty
            if "default" in entry:
                default = Codec().decode(entry["default"])
            elif "default_repr" in entry:
                default = _Shown(str(entry["default_repr"]))
            kind = inspect._ParameterKind(int(entry["kind"]))
            rebuilt.append(inspect.Parameter(str(entry["name"]), kind, default=default))
        return inspect.Signature(rebuilt)
    except (CodecError, KeyError, TypeError, ValueError):
        return None


class _Method:
    """A method of a learner's object, called by name in one request.

    A coroutine method gives an awaitable. Passed back to the learner's code, it is
    fetched as an object.
    """

    def __init__(self, handle: Handle, name: str, *, coroutine: bool) -> None:
        self._handle = handle
        self._name = name
        self._coroutine = coroutine

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the object in the worker (an awaitable for a coroutine function)."""
        if _recorded(self._handle, self._name, args, kwargs):
            return None
        worker = self._handle._worker
        fields = self._handle._call(self._name, args, kwargs)
        if self._coroutine:
            return _kept((self._handle, args, kwargs), worker.arequest(protocol.CALL, **fields))
        return worker.request(protocol.CALL, **fields)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.resolve(), name)

    def by_reference(self, *args: Any, **kwargs: Any) -> Any:
        """Call it; the result comes back as a handle, even a plain value.

        A dict the learner's object may still hold can then be changed where the learner's
        code sees the change (``pytest_tutorial.by_reference``).
        """
        fields = self._handle._call(self._name, args, kwargs)
        return self._handle._worker.request(protocol.CALL, by_reference=True, **fields)

    def resolve(self) -> Handle:
        """The method itself, as a handle of the worker."""
        found = self._handle._worker.request(
            protocol.GETATTR, target=self._handle._id, name=self._name
        )
        if not isinstance(found, Handle):
            raise TypeError(f"{self._name} is not a method of the learner's object")
        return found

    def __repr__(self) -> str:
        return f"<method {self._name} of {self._handle!r}>"
