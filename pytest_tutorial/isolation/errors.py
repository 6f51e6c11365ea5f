"""Exceptions and exception classes, across the channel in both directions.

An exception crosses as a description: its class's module, qualified name and MRO, its
message, its arguments when they are plain, and where it was raised in the learner's code.
The receiving side raises the built-in type when the class is a built-in, and otherwise a
class it makes with the same name, module and chain of bases, down to the nearest built-in
(:class:`ForeignExceptions`, one class per qualified name, so ``pytest.raises`` with a
class read from the other side matches an exception raised there).
"""

from __future__ import annotations

import builtins
import functools
import linecache
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

EXCEPTION_TEXT_LIMIT = 4000
"""Characters of an exception's message that cross the channel (a check may match on it)."""
TRACEBACK_LIMIT = 4000
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"
MAX_ATTRS = 20
"""Public attributes of an exception that cross with it (``ClientError.response``, say)."""
HARNESS_PACKAGES = frozenset(
    {
        "_pytest",
        "pytest",
        "pluggy",
        "hypothesis",
        "_hypothesis_pytestplugin",
        "pytest_asyncio",
        "pytest_benchmark",
        "xdist",
        "execnet",
        "unittest",
    }
)
"""Packages whose exceptions mean something to pytest or the harness (skip, exit, timeout);
this package's own modules too, except the tutorials' check modules (:data:`CHECK_MODULES`)."""
CHECK_MODULES = "pytest_tutorial.tutorials."
"""A check's own exception class (a failing backend it hands the learner's code) must come
back as itself, so that the check's ``pytest.raises`` sees it."""


def steers_the_harness(kind: type[BaseException]) -> bool:
    """Whether raising ``kind`` could do more than fail a check (see the module docstring)."""
    if not issubclass(kind, Exception) or issubclass(kind, StopIteration | StopAsyncIteration):
        return True
    return any(_of_the_harness(cls.__module__) for cls in kind.__mro__)


def _of_the_harness(module: str) -> bool:
    root = module.partition(".")[0]
    if root == "pytest_tutorial":
        return not module.startswith(CHECK_MODULES)
    return root in HARNESS_PACKAGES


def class_info(kind: type[BaseException]) -> dict[str, Any]:
    """A class as data: module, qualified name and the MRO down to BaseException."""
    chain = [cls for cls in kind.__mro__ if issubclass(cls, BaseException)]
    return {
        "module": kind.__module__,
        "qualname": kind.__qualname__,
        "mro": [[cls.__module__, cls.__qualname__] for cls in chain],
    }


def exception_info(
    error: BaseException,
    encode_args: Callable[[tuple[Any, ...]], Any],
    where: Callable[[BaseException], str] = lambda error: "",
) -> dict[str, Any]:
    """An exception as data (see the module docstring); ``where`` names the learner's line."""
    try:
        args = encode_args(error.args)
    except (TypeError, ValueError):
        args = None
    attrs = {}
    for name, value in list(getattr(error, "__dict__", {}).items())[:MAX_ATTRS]:
        if not name.startswith("_"):
            try:
                attrs[name] = encode_args((value,))[0]
            except (TypeError, ValueError):
                continue
    return {
        **class_info(type(error)),
        "message": _text(error)[:EXCEPTION_TEXT_LIMIT],
        "args": args,
        "attrs": attrs,
        "where": where(error),
        "traceback": traceback_text(error)[-TRACEBACK_LIMIT:],
    }


def traceback_text(error: BaseException) -> str:
    """The traceback as Python prints it, chained exceptions included, without column markers.

    The markers parse each line's source: describing an exception cost a millisecond
    (several with ``tracemalloc`` on), and a check may meet hundreds.
    """
    if isinstance(error, BaseExceptionGroup):  # rare: its members' tracebacks, as Python does
        return "".join(traceback.format_exception(error))
    sections: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(_frame_lines(current.__traceback__))
        text = "".join(traceback.format_exception_only(type(current), current))
        if frames:
            text = f"Traceback (most recent call last):\n{frames}{text}"
        sections.append(text)
        if current.__cause__ is not None:
            sections.append(_CAUSE)
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            sections.append(_CONTEXT)
            current = current.__context__
        else:
            current = None
    return "".join(reversed(sections))


def _frame_lines(tb: TracebackType | None) -> list[str]:
    lines = []
    while tb is not None:
        code = tb.tb_frame.f_code
        line = linecache.getline(code.co_filename, tb.tb_lineno).strip()
        lines.append(f'  File "{code.co_filename}", line {tb.tb_lineno}, in {code.co_name}\n')
        if line:
            lines.append(f"    {line}\n")
        tb = tb.tb_next
    return lines


def _text(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:  # a learner's __str__ that raises
        return f"<{type(error).__name__} whose message cannot be read>"


class ForeignExceptions:
    """The other side's exception classes, made once per qualified name."""

    def __init__(
        self,
        module_prefix: str = "",
        resolve: Callable[[str, str], type[BaseException] | None] | None = None,
        refuse: Callable[[type[BaseException]], bool] = lambda kind: False,
    ) -> None:
        self.module_prefix = module_prefix
        self.resolve = resolve
        """Finds a class of this side by module and qualified name (the worker's own)."""
        self.refuse = refuse
        """Classes of this side never raised for the other side: a stand-in is made instead."""
        self._made: dict[tuple[str, str], type[BaseException]] = {}
        self._lock = threading.Lock()

    def class_for(self, info: dict[str, Any]) -> type[BaseException]:
        """The class ``info`` describes: the built-in, or one made to stand for it."""
        chain = [
            (str(pair[0]), str(pair[1]))
            for pair in info.get("mro") or []
            if isinstance(pair, list) and len(pair) == 2
        ] or [(str(info.get("module")), str(info.get("qualname")))]
        with self._lock:
            return self._make(chain)

    def _own(self, module: str, qualname: str) -> type[BaseException] | None:
        return _builtin(module, qualname) or (self.resolve and self.resolve(module, qualname))

    def _make(self, chain: list[tuple[str, str]]) -> type[BaseException]:
        module, qualname = chain[0]
        own = self._own(module, qualname)
        if own is not None and not self.refuse(own):
            return own
        key = (module, qualname)
        if key not in self._made:
            rest = chain[1:]
            while rest and (found := self._own(*rest[0])) is not None and self.refuse(found):
                rest = rest[1:]  # a refused base: the stand-in derives from the next one
            base = self._make(rest) if rest else Exception
            name = qualname.rpartition(".")[2] or "RemoteError"
            namespace = {"__module__": self.module_prefix + module, "__qualname__": qualname}
            self._made[key] = type(name, (base,), namespace)
        return self._made[key]

    def rebuild(
        self, info: dict[str, Any], args: Any, attrs: dict[str, Any] | None = None
    ) -> BaseException:
        """An exception like the one ``info`` describes: its message, attributes and ``where``.

        ``args`` and ``attrs`` are the decoded ``info["args"]`` and ``info["attrs"]``.
        """
        kind = self.class_for(info)
        message = str(info.get("message", ""))
        error: BaseException
        try:
            error = kind(*args) if isinstance(args, list | tuple) else kind(message)
        except Exception:
            error = kind.__new__(kind)
            error.args = (message,)
        if _text(error) != message and not isinstance(error, KeyError):
            error.args = (message,)
        for name, value in (attrs or {}).items():
            if isinstance(name, str) and not name.startswith("_"):
                try:
                    setattr(error, name, value)
                except (AttributeError, TypeError):
                    continue
        error.__tutorial_where__ = str(info.get("where") or "")  # type: ignore[attr-defined]
        error.__tutorial_traceback__ = str(info.get("traceback") or "")  # type: ignore[attr-defined]
        return error


def _builtin(module: str, qualname: str) -> type[BaseException] | None:
    if module != "builtins":
        return None
    found = getattr(builtins, qualname, None)
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


def innermost_in(folder: Path) -> Callable[[BaseException], str]:
    """``where`` for :func:`exception_info`: ``file:line`` of the innermost frame in ``folder``."""
    root = _resolved(str(folder))

    def where(error: BaseException) -> str:
        frames = []
        tb = error.__traceback__
        while tb is not None:
            frames.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
            tb = tb.tb_next
        for filename, lineno in reversed(frames):
            path = _resolved(filename)
            if root is not None and path is not None and path.is_relative_to(root):
                return f"{path.relative_to(root).as_posix()}:{lineno}"
        return ""

    return where


@functools.lru_cache(maxsize=4096)
def _resolved(filename: str) -> Path | None:
    """``filename`` resolved, or None (remembered: a check may describe hundreds of errors)."""
    try:
        return Path(filename).resolve()
    except OSError:
        return None
