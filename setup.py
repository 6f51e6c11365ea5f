"""Packaging hook: wheels and sdists ship each bundled tutorial's starter and reference.

The repository keeps them at its top level (``exercises/NAME``, ``reference_solutions/NAME``,
with their ``tests/`` and README). ``build_py`` copies those of every tutorial bundled in
``pytest_tutorial/tutorials/`` into ``pytest_tutorial/_bundled/`` of the built package, where
:mod:`pytest_tutorial.bundled` finds them; the sdist lists them as sources so that a wheel
built from it has them too. Editable installs copy nothing: the checkout's folders are used.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

TUTORIALS = Path("pytest_tutorial", "tutorials")
BUNDLE = Path("pytest_tutorial", "_bundled")
SHIPPED = ("exercises", "reference_solutions")


def bundled_files() -> list[Path]:
    """Every file to ship, relative to the project: starters and references of bundled tutorials."""
    files: list[Path] = []
    for folder in SHIPPED:
        if not Path(folder).is_dir():
            continue
        for tutorial in sorted(Path(folder).iterdir()):
            if not (TUTORIALS / tutorial.name / "tutorial.md").is_file():
                continue
            files += sorted(
                path
                for path in tutorial.rglob("*")
                if path.is_file() and not _skipped(path.relative_to(tutorial))
            )
    return files


def _skipped(relative: Path) -> bool:
    """Caches and tool litter (``__pycache__``, dot folders, bytecode) are not shipped."""
    litter = any(part == "__pycache__" or part.startswith(".") for part in relative.parts)
    return litter or relative.suffix in (".pyc", ".pyo")


class BuildPyWithBundled(build_py):
    """``build_py`` that also copies the starters and references into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for source in bundled_files():
            target = Path(self.build_lib, BUNDLE, source)
            self.mkpath(str(target.parent))
            self.copy_file(str(source), str(target), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs: list[str] = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        return [*outputs, *(str(Path(self.build_lib, BUNDLE, path)) for path in bundled_files())]

    def get_source_files(self) -> list[str]:
        return [*super().get_source_files(), *(path.as_posix() for path in bundled_files())]


setup(cmdclass={"build_py": BuildPyWithBundled})
