"""Test modules rewritten once per warm server, not once per run.

pytest rewrites the asserts of every test module it imports: it parses the source,
transforms the tree and compiles it. It keeps the result in ``__pycache__`` next to the
module, but a warm server's runs cannot use that: each lays the learner's tests out in a
folder of its own (so every path is new) and writes no bytecode. Rewriting the caching
reference's tests is about a fifth of such a run's CPU time, spent again in each of the
ten runs of a ``tests`` check.

:func:`share_rewritten_modules`, called in the server before it forks, makes every child
look the rewritten code up by what it was made from: the module's source, pytest's
version and the one ini option that changes the generated code
(``enable_assertion_pass_hook``). A hit is the same code object with the file name of the
module being imported; a miss rewrites as pytest does and stores the result. Entries are
written whole (a temporary file, then a rename), so runs that share the folder at the
same moment never read half of one. Any failure falls back to pytest's own rewriting.

The folder is the server's own and goes with it, readable by its user alone. The runs that
share it run the same learner's code, which can do anything a stored entry could; nothing
else reads it. A server forked from another warm process shares a folder of its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import marshal
import os
import tempfile
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

PYTESTS_OWN = "_pytest_tutorial_own_rewrite_test"
"""Where pytest's own ``_rewrite_test`` is kept once it has been replaced."""
RewriteTest = Callable[[Path, Any], tuple[Any, types.CodeType]]
"""pytest's ``_rewrite_test``: the first item is the module's stat or its source's hash."""


def share_rewritten_modules(folder: Path) -> None:
    """Make pytest's assertion rewriting in this process and its forks use ``folder``."""
    try:
        import pytest
        from _pytest.assertion import rewrite
    except ImportError:
        return
    # pytest's own function, also in a process forked from one that shared another folder
    original: RewriteTest | None = getattr(
        rewrite, PYTESTS_OWN, getattr(rewrite, "_rewrite_test", None)
    )
    if original is None:  # a pytest without the function: rewrite as it does
        return
    try:
        first_item = _first_item_of(original)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)  # another uid in the sandbox must not read the rewritten checks
    except Exception:
        return
    version = pytest.__version__.encode()

    def rewrite_test(fn: Path, config: Any) -> tuple[Any, types.CodeType]:
        try:
            source = fn.read_bytes()
            hook = bool(config.getini("enable_assertion_pass_hook")) if config else False
        except Exception:
            return original(fn, config)
        key = hashlib.sha256(b"%s\0%d\0%s" % (version, hook, source)).hexdigest()
        entry = folder / key
        code = _load(entry)
        if code is not None:
            return first_item(fn, source), relocated(code, str(fn))
        result = original(fn, config)
        _store(entry, result[1])
        return result

    vars(rewrite)[PYTESTS_OWN] = original
    vars(rewrite)["_rewrite_test"] = rewrite_test


def _first_item_of(original: RewriteTest) -> Callable[[Path, bytes], Any]:
    """What pytest puts first in the result: the module's stat, or (9.2 on) its source's hash.

    Found by rewriting a one-line module once, not by reading pytest's version.
    """
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder, "probe.py")
        probe.write_text("x = 1\n", encoding="utf-8")
        first, _ = original(probe, None)
    if isinstance(first, bytes):
        return lambda fn, source: importlib.util.source_hash(source)
    return lambda fn, source: os.stat(fn)


def relocated(code: types.CodeType, filename: str) -> types.CodeType:
    """``code`` and the code objects nested in it, as compiled from ``filename``."""
    constants = tuple(
        relocated(constant, filename) if isinstance(constant, types.CodeType) else constant
        for constant in code.co_consts
    )
    return code.replace(co_filename=filename, co_consts=constants)


def _load(entry: Path) -> types.CodeType | None:
    try:
        code = marshal.loads(entry.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, types.CodeType) else None


def _store(entry: Path, code: types.CodeType) -> None:
    partial = entry.with_name(f"{entry.name}.{os.getpid()}")
    with contextlib.suppress(OSError):
        partial.write_bytes(marshal.dumps(code))
        os.replace(partial, entry)
    with contextlib.suppress(OSError):
        partial.unlink(missing_ok=True)
