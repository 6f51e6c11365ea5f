"""Load the implementation under test from a solution folder, under names that cannot clash.

Each solution folder is imported as its own synthetic package (``_tutorial_solution_<n>``),
so a learner's ``cache_service`` and the reference's load side by side in one session and
neither shadows an installed module. Modules of a solution import each other relatively
(``from .helpers import x``) or by their plain name; both resolve inside the solution.

An import that fails (syntax error, missing module or name, exception or hang at import)
is kept as a :class:`SolutionImportError` with the file, line and message, raised again for
every check that needs the solution, while the rest of the run goes on.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pytest_tutorial.model import SolutionContract

_counter = itertools.count(1)


class SolutionImportError(Exception):
    """The solution could not be imported; the message says where and why, for the learner."""


@dataclass(frozen=True)
class Solution:
    """The learner's (or reference) implementation: the module and the exports it must have.

    Checks read exports as attributes: ``solution.CacheService``.
    """

    path: Path
    kind: str
    module: ModuleType
    exports: tuple[str, ...]

    def __getattr__(self, name: str) -> Any:
        try:
            return getattr(self.module, name)
        except AttributeError:
            raise AttributeError(f"{self.module_file} has no attribute '{name}'") from None

    @property
    def module_file(self) -> str:
        """The path of the solution's main module, for messages."""
        return str(getattr(self.module, "__file__", self.path))

    @property
    def processes(self) -> tuple[int, ...]:
        """The ids of the processes, besides this one, that run the solution's code."""
        return ()


def load_solution(path: Path, kind: str, contract: SolutionContract) -> Solution:
    """Import ``contract.module`` from the folder ``path`` and check its exports.

    Raises :class:`SolutionImportError` with a learner-readable message on any failure.
    """
    module_file = module_file_of(path, contract)
    package = _make_package(path)
    module = _import(f"{package}.{contract.module}", module_file, path)
    missing = [name for name in contract.exports if not hasattr(module, name)]
    if missing:
        raise SolutionImportError(
            f"{shown(module_file)} does not define {', '.join(repr(name) for name in missing)}, "
            "which the tutorial requires"
        )
    return Solution(path=path, kind=kind, module=module, exports=contract.exports)


def module_file_of(path: Path, contract: SolutionContract) -> Path:
    """The solution's main module in the folder ``path``.

    Raises :class:`SolutionImportError` when the folder or the module is missing, with the
    same message whichever process is to import it.
    """
    module_file = path / f"{contract.module.replace('.', '/')}.py"
    if not path.is_dir():
        raise SolutionImportError(f"the solution folder {path} does not exist")
    if not module_file.is_file():
        raise SolutionImportError(
            f"{shown(module_file)} does not exist: the tutorial expects your code in "
            f"'{contract.module}.py' inside {path}"
        )
    return module_file


def shown(path: Path) -> str:
    """A path as the learner would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _make_package(path: Path) -> str:
    """Register a synthetic package whose __path__ is the solution folder."""
    name = f"_tutorial_solution_{next(_counter)}"
    spec = importlib.util.spec_from_loader(name, loader=None, is_package=True)
    assert spec is not None
    package = importlib.util.module_from_spec(spec)
    package.__path__ = [str(path)]
    sys.modules[name] = package
    return name


def _import(qualified: str, module_file: Path, folder: Path) -> ModuleType:
    """Import the module without writing bytecode into the learner's folder."""
    before = set(sys.modules)
    saved_path = list(sys.path)
    saved_flag = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(qualified)
    except Exception as error:
        raise SolutionImportError(describe_import_failure(error, folder, module_file)) from None
    finally:
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_flag
        _rename_plain_siblings(before, folder, qualified.rpartition(".")[0])


def _rename_plain_siblings(before: set[str], folder: Path, package: str) -> None:
    """Move sibling modules the solution imported by plain name under its package.

    ``import helpers`` inside the solution loads ``helpers`` from the folder; leaving it in
    ``sys.modules`` as ``helpers`` would make another solution's ``import helpers`` get
    this one.
    """
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if module is None or not file or name.startswith(package):
            continue
        try:
            inside = Path(file).resolve().is_relative_to(folder.resolve())
        except OSError:
            continue
        if inside:
            sys.modules[f"{package}.{name}"] = sys.modules.pop(name)


def describe_import_failure(error: BaseException, folder: Path, module_file: Path) -> str:
    """``file:line: Type: message`` for the innermost frame inside the solution folder.

    A syntax error names its own file and line.
    """
    if isinstance(error, SyntaxError):
        where = f"{shown(Path(error.filename or module_file))}:{error.lineno}"
        return f"{where}: SyntaxError: {error.msg}"
    location = shown(module_file)
    resolved = folder.resolve()
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        try:
            if Path(frame.filename).resolve().is_relative_to(resolved):
                location = f"{shown(Path(frame.filename))}:{frame.lineno}"
                break
        except OSError:
            continue
    return f"{location}: {type(error).__name__}: {error} (while importing the solution)"
