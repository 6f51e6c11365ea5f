"""Add a folder to the ``tutorial_paths`` ini key, so pytest finds a scaffolded tutorial.

The ini file is found the way pytest finds it in one folder (``pytest.ini``,
``.pytest.ini``, ``pyproject.toml`` with a ``[tool.pytest.ini_options]`` or
``[tool.pytest]`` table, ``tox.ini`` with ``[pytest]``, ``setup.cfg`` with
``[tool:pytest]``). The edit is one inserted or extended line; anything less plain
(a TOML list already naming other folders) is left to the author, with the line to write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

KEY = "tutorial_paths"
_CANDIDATES = (
    ("pytest.ini", ("[pytest]",)),
    (".pytest.ini", ("[pytest]",)),
    ("pyproject.toml", ("[tool.pytest.ini_options]", "[tool.pytest]")),
    ("tox.ini", ("[pytest]",)),
    ("setup.cfg", ("[tool:pytest]",)),
)
_HEADER = re.compile(r"^\s*\[")


@dataclass(frozen=True)
class IniChange:
    """What happened to the ini file: ``changed`` or not, and a sentence for the author."""

    path: Path
    changed: bool
    message: str


def find_ini(folder: Path) -> tuple[Path, str] | None:
    """The ini file pytest would read in ``folder`` and its section header, or None."""
    for name, headers in _CANDIDATES:
        path = folder / name
        if not path.is_file():
            continue
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        for header in headers:
            if header in lines:
                return path, header
        if name in ("pytest.ini", ".pytest.ini"):
            return path, headers[0]  # pytest reads it even without the section
    return None


def add_tutorial_path(folder: Path, tutorials: Path) -> IniChange:
    """Make ``tutorials`` one of the ini's ``tutorial_paths`` (creating pytest.ini if none)."""
    found = find_ini(folder)
    if found is None:
        path = folder / "pytest.ini"
        entry = _entry(folder, tutorials)
        path.write_text(f"[pytest]\n{KEY} = {entry}\n", encoding="utf-8")
        return IniChange(path, True, f"created {path.name} with {KEY} = {entry}")
    path, header = found
    entry = _entry(path.parent, tutorials)
    toml = path.suffix == ".toml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next((n for n, line in enumerate(lines) if line.strip() == header), None)
    value = f'["{entry}"]' if toml else entry
    if start is None:
        lines.append(("\n" if lines else "") + f"{header}\n{KEY} = {value}\n")
        path.write_text("".join(lines), encoding="utf-8")
        return IniChange(path, True, f"added {header} with {KEY} = {value} to {path.name}")
    end = next((n for n in range(start + 1, len(lines)) if _HEADER.match(lines[n])), len(lines))
    key_line = next(
        (n for n in range(start + 1, end) if lines[n].split("=")[0].strip() == KEY), None
    )
    if key_line is None:
        lines.insert(start + 1, f"{KEY} = {value}\n")
        path.write_text("".join(lines), encoding="utf-8")
        return IniChange(path, True, f"added {KEY} = {value} to {header} in {path.name}")
    current = lines[key_line]
    if re.search(rf"(^|[\s\"'=\[,]){re.escape(entry)}/?($|[\s\"',\]])", current):
        return IniChange(path, False, f"{path.name} already lists {entry} in {KEY}")
    following = key_line + 1 < end and lines[key_line + 1][:1] in (" ", "\t")
    if toml or following:
        return IniChange(
            path,
            False,
            f"add {entry} to {KEY} in {path.name} (line {key_line + 1}) so pytest finds "
            "the new tutorial",
        )
    lines[key_line] = current.rstrip("\n") + f" {entry}\n"
    path.write_text("".join(lines), encoding="utf-8")
    return IniChange(path, True, f"added {entry} to {KEY} in {path.name}")


def _entry(base: Path, tutorials: Path) -> str:
    try:
        return tutorials.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return tutorials.resolve().as_posix()
