"""The worker's import of the solution: as a run in one process does, or plainly.

``as_package`` (what a tutorial run in worker mode asks) loads the solution with the same
loader as a run in one process (:func:`pytest_tutorial.solution.load_solution`), in the
same working folder, so the package, relative imports and learner-facing messages are the
same. Without it the module is imported by its plain name from its folder.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any


def import_solution(message: dict[str, Any]) -> Any:
    """Import the solution the trusted side names: its module, for a handle."""
    from pytest_tutorial.solution import SolutionImportError, describe_import_failure

    folder = Path(str(message.get("folder")))
    module = str(message.get("module"))
    if message.get("as_package"):
        return _import_as_package(folder, module, message.get("exports") or [])
    os.chdir(folder)
    sys.path.insert(0, str(folder))
    module_file = folder / f"{module.replace('.', '/')}.py"
    try:
        loaded = importlib.import_module(module)
    except BaseException as error:
        raise SolutionImportError(describe_import_failure(error, folder, module_file)) from None
    missing = [name for name in message.get("exports") or [] if not hasattr(loaded, name)]
    if missing:
        raise SolutionImportError(
            f"{module_file.name} does not define "
            f"{', '.join(repr(name) for name in missing)}, which the tutorial requires"
        )
    return loaded


def _import_as_package(folder: Path, module: str, exports: object) -> Any:
    """Load the solution exactly as a run in one process does, the working folder kept.

    The same loader (:func:`pytest_tutorial.solution.load_solution`) gives the same
    package, relative imports and learner-facing messages, paths shown from the same
    folder.
    """
    from pytest_tutorial.model import SolutionContract
    from pytest_tutorial.solution import load_solution

    names = tuple(str(name) for name in exports) if isinstance(exports, list) else ()
    return load_solution(folder, "worker", SolutionContract(module, names)).module
