"""The check-author API: one import home, and the bundled tutorials use nothing else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pytest_tutorial

TUTORIALS = Path(pytest_tutorial.__file__).parent / "tutorials"


@pytest.mark.parametrize("name", pytest_tutorial.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(pytest_tutorial, name) is not None


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'CheckSpec'"):
        _ = pytest_tutorial.CheckSpec


def _imported_modules(source: Path) -> list[tuple[int, str, list[str]]]:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    found: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
    return found


def test_bundled_tutorials_use_only_the_public_api() -> None:
    private: list[str] = []
    for source in sorted(TUTORIALS.rglob("*.py")):
        own = f"pytest_tutorial.tutorials.{source.relative_to(TUTORIALS).parts[0]}"
        for line, module, names in _imported_modules(source):
            if module == "pytest_tutorial":
                private += [
                    f"{source}:{line}: {n}" for n in names if n not in pytest_tutorial.__all__
                ]
            elif module.startswith("pytest_tutorial.") and not module.startswith(own):
                private.append(f"{source}:{line}: {module}")
    assert private == []
