"""Write a started folder: the code, its tests, the tutorial document and a ``pytest.ini``.

What ``pytest-tutorial start NAME DIR`` leaves in DIR:

- the starter's files (``exercises/NAME``: the stubs, ``tests/``, ``README.md``), or the
  reference's with ``--reference``, without caches;
- ``TUTORIAL.md``: the tutorial document with, below its front matter, a note of where it
  came from and which version it is; its links to the starter's files point into DIR;
- ``README.md``: the starter's, with its link to the tutorial pointing at ``TUTORIAL.md``
  and its "Commands" section rewritten for this folder (a reference gets a short one);
- ``pytest.ini``, which makes ``pytest --tutorial=NAME`` and ``pytest-tutorial watch NAME``
  check this folder with no other option (``tutorial_solution = .``, relative to the ini)
  and a plain ``pytest`` run the folder's own tests (``pythonpath = .``, ``testpaths``,
  ``asyncio_mode = auto`` as in the harness's runs of them). It does not set ``tutorial``,
  which would turn every pytest run here into a tutorial run.

The folder is assembled beside DIR and renamed into place: a failure leaves nothing behind.
"""

from __future__ import annotations

import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from pytest_tutorial.bundled import is_litter
from pytest_tutorial.start import command_line

DOCUMENT = "TUTORIAL.md"
README = "README.md"
INI = "pytest.ini"
TESTS = "tests"

_FOLDER_LINK = r"\]\((?:\.\./)*(?:exercises|reference_solutions)/{name}/([^)\s]*)\)"
_DOCUMENT_LINK = re.compile(r"\]\((?![a-z]+:)[^)\s#]*tutorial\.md(#[^)\s]*)?\)")
_COMMANDS_SECTION = re.compile(r"^## Commands\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Origin:
    """What a started folder is made from."""

    name: str
    title: str
    tutorial_version: str
    package_version: str
    code: Path
    """The starter's folder, or the reference's."""
    document: Path
    reference: bool = False


def lay_out(origin: Origin, target: Path) -> list[str]:
    """Create ``target`` (absent, or an empty folder); return its files, relative to it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.start-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        _copy_code(origin.code, staging)
        _write(staging / DOCUMENT, tutorial_text(origin.document.read_text("utf-8"), origin))
        readme = staging / README
        _write(readme, readme_text(readme.read_text("utf-8") if readme.is_file() else None, origin))
        _write(staging / INI, ini_text(origin, has_tests=(staging / TESTS).is_dir()))
        if target.is_dir():
            target.rmdir()  # empty: checked by the caller, and rmdir refuses otherwise
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())


def _copy_code(source: Path, target: Path) -> None:
    """The code and its tests, without caches; new files get the learner's usual modes."""
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_file() and not is_litter(relative):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / relative)


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def tutorial_text(text: str, origin: Origin) -> str:
    """The document, its links into the starter made local, a note of its origin added."""
    text = re.sub(_FOLDER_LINK.format(name=re.escape(origin.name)), r"](\1)", text)
    text = text.replace("]()", f"]({README})")
    note = (
        f"> This copy of the tutorial (version {origin.tutorial_version}) came with "
        f"pytest-tutorial {origin.package_version}, laid out by "
        f"`{command_line(origin.name, reference=origin.reference)}`. "
        f"`pytest --tutorial={origin.name}` checks the code of this folder against its "
        "Validation Checklist.\n"
    )
    match = re.match(r"---\n.*?\n---\n", text, re.DOTALL)
    end = match.end() if match else 0
    return f"{text[:end]}\n{note}\n{text[end:].lstrip(chr(10))}"


def readme_text(text: str | None, origin: Origin) -> str:
    """The starter's README for this folder, or a short one for a reference."""
    if text is None:
        what = "reference solution" if origin.reference else "starter code"
        text = (
            f"# {origin.title}: {what}\n\n"
            f"The {what} of the tutorial, which is [TUTORIAL.md]({DOCUMENT}).\n"
        )
    text = _DOCUMENT_LINK.sub(lambda match: f"]({DOCUMENT}{match.group(1) or ''})", text)
    commands = commands_section(origin)
    if _COMMANDS_SECTION.search(text):
        return _COMMANDS_SECTION.sub(lambda _: commands, text, count=1)
    return text.rstrip("\n") + "\n\n" + commands


def commands_section(origin: Origin) -> str:
    """The README's "Commands": what works in the started folder, and what each does."""
    name = origin.name
    return (
        "## Commands\n\n"
        f"This folder was laid out by `{command_line(name, reference=origin.reference)}`; "
        "its `pytest.ini` makes these\ncommands work here and in any folder below, "
        "with no other option:\n\n"
        "```bash\n"
        f"{_commands(name, '# ')}"
        "```\n\n"
        "The checklist run also runs the tests in `tests/`: three times in shuffled order, "
        "and\nagainst implementations with known bugs, which they must catch.\n"
    )


def _commands(name: str, comment: str) -> str:
    """The three commands of a started folder, each with what it does, aligned."""
    commands = {
        f"pytest --tutorial={name}": "check this folder's code against the checklist",
        f"pytest-tutorial watch {name}": "the same, again each time a file is saved",
        "pytest": "run the tests in tests/",
    }
    width = max(len(command) for command in commands) + 3
    return "".join(f"{c.ljust(width)}{comment}{what}\n" for c, what in commands.items())


def ini_text(origin: Origin, *, has_tests: bool) -> str:
    """``pytest.ini``: the checks find this folder, and its own tests import its code."""
    name = origin.name
    lines = [
        f"# Written by `{command_line(name, reference=origin.reference)}` "
        f"(pytest-tutorial {origin.package_version}).",
        "# With it, in this folder or any folder below:",
        *(f"#   {line}" for line in _commands(name, "").splitlines()),
        "[pytest]",
        "tutorial_solution = .",
        "pythonpath = .",
    ]
    if has_tests:
        lines.append(f"testpaths = {TESTS}")
    lines += ["asyncio_mode = auto", "asyncio_default_fixture_loop_scope = function"]
    return "\n".join(lines) + "\n"
