"""The docs against the code: options, ini keys, commands, fixtures, fields, links, examples.

docs/reference.md must list every option and ini key pytest knows and every option of the
``pytest-tutorial`` commands, and name nothing that does not exist; every
``pytest-tutorial ...`` line in the docs must parse; the blocks marked ``<!-- doc-test -->``
are run in a temporary folder (``# exit N``: the status expected, else 0).
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_tutorial.cli import build_parser
from pytest_tutorial.fixtures import FIXTURE_MODULES
from pytest_tutorial.report import SCHEMA_PATH
from tests.commands import environment

DOCS = Path(__file__).resolve().parent.parent / "docs"
REFERENCE = (DOCS / "reference.md").read_text(encoding="utf-8")
MY_COMMANDS = ("verify", "new", "watch", "start", "hidden-bugs", "export")
DOC_TEST = "<!-- doc-test -->"


def pytest_help(pytester: pytest.Pytester) -> str:
    """``pytest --help`` with the plugin loaded as an install loads it (its entry point)."""
    result = pytester.runpytest("--help")
    assert result.ret == 0, result.stderr.str()
    return result.stdout.str()


def section(text: str, heading: str) -> str:
    """The text under a heading, up to the next heading of the same or a higher level."""
    start = text.index(heading)
    level = heading.split(" ")[0]
    rest = text[start + len(heading) :]
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", rest, re.MULTILINE)]
    return rest[: ends[0]] if ends else rest


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_pytest_option_and_ini_key_is_documented_and_exists(
    pytester: pytest.Pytester,
) -> None:
    help_text = pytest_help(pytester)
    options = set(re.findall(r"^\s+(--tutorial[a-z-]*)", help_text, re.MULTILINE))
    ini_keys = set(re.findall(r"^\s+(tutorial[a-z_]*) \(", help_text, re.MULTILINE))
    assert {"--tutorial", "--tutorial-list"} <= options
    assert "tutorial_paths" in ini_keys
    table = section(REFERENCE, "## pytest options")
    for option in options:
        assert f"`{option}" in table, f"{option} is not in docs/reference.md"
    for key in ini_keys:
        assert f"`{key}`" in table, f"ini key {key} is not in docs/reference.md"
    for doc in (DOCS / "reference.md", DOCS / "learner.md", DOCS / "authoring.md"):
        named = set(re.findall(r"(--tutorial(?:-[a-z]+)*)\b", doc.read_text(encoding="utf-8")))
        assert named <= options, f"{doc.name} names options pytest does not know: {named - options}"


def test_every_command_option_is_documented_and_exists() -> None:
    for name, parser in subcommands().items():
        if name not in MY_COMMANDS:
            continue
        documented = section(REFERENCE, f"### `pytest-tutorial {name}")
        known = {
            option
            for action in parser._actions
            for option in action.option_strings
            if option not in ("-h", "--help")
        }
        for option in known:
            assert f"`{option}" in documented, f"{name} {option} is not in docs/reference.md"
        named = set(re.findall(r"^\| `(-[-a-z]+)", documented, re.MULTILINE))
        assert named <= known, f"docs name options {name} does not have: {named - known}"


def test_every_export_option_is_in_its_ci_section() -> None:
    """``export``'s targets keep their options in docs/ci.md, each in its section's text."""
    ci = (DOCS / "ci.md").read_text(encoding="utf-8")
    export = subcommands()["export"]
    action = next(a for a in export._actions if isinstance(a, argparse._SubParsersAction))
    gradescope = section(ci, "## Gradescope: `pytest-tutorial export gradescope`")
    classroom = section(ci, "## GitHub Classroom: `pytest-tutorial export github-classroom`")
    for target, documented in (("gradescope", gradescope), ("github-classroom", classroom)):
        options = {
            option
            for option_action in action.choices[target]._actions
            for option in option_action.option_strings
            if option not in ("-h", "--help")
        }
        assert len(options) >= 5
        for option in options:
            assert f"`{option}" in documented, f"export {target} {option} is not in docs/ci.md"


def test_every_command_line_in_the_docs_parses() -> None:
    parser = build_parser()
    seen = 0
    for doc in [*DOCS.glob("*.md"), DOCS.parent / "README.md"]:
        for line in _bash_lines(doc.read_text(encoding="utf-8")):
            line = line.split("#")[0].strip()
            if not line.startswith("pytest-tutorial ") or line.split()[1] not in MY_COMMANDS:
                continue
            seen += 1
            try:
                parser.parse_args(shlex.split(line)[1:])
            except SystemExit:
                pytest.fail(f"{doc.name}: `{line}` does not parse")
    assert seen >= 6


def _bash_lines(markdown: str) -> list[str]:
    """The lines of the ```bash blocks."""
    blocks = re.findall(r"^```bash\n(.*?)^```", markdown, re.MULTILINE | re.DOTALL)
    return [line for block in blocks for line in block.splitlines()]


def test_the_marker_and_the_fixtures_are_as_documented(pytestconfig: pytest.Config) -> None:
    line = next(m for m in pytestconfig.getini("markers") if m.startswith("checklist("))
    parameters = [p.split("=")[0].strip(" *") for p in line[10 : line.index(")")].split(",")]
    documented = section(REFERENCE, "## The marker")
    assert f"`@pytest.mark.{line[: line.index(')') + 1].replace('item', 'ITEM', 1)}`" in documented
    assert all(parameter in documented for parameter in parameters)
    ours = {
        value.name
        for module in FIXTURE_MODULES
        for value in vars(importlib.import_module(module)).values()
        if type(value).__name__ == "FixtureFunctionDefinition"  # what @pytest.fixture makes
    }
    table = section(REFERENCE, "## Fixtures")
    first_cells = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `")]
    documented_fixtures = {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)}
    assert len(ours) > 10
    assert ours <= documented_fixtures, f"not in docs/reference.md: {ours - documented_fixtures}"
    assert documented_fixtures <= ours, f"no such fixtures: {documented_fixtures - ours}"


def test_the_report_fields_are_the_schema_ones() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    listed = section(REFERENCE, "## The report")
    names = set(re.findall(r"`([a-z_]+)`", listed))
    assert names == set(schema["properties"])


def test_relative_links_of_the_new_docs_resolve() -> None:
    for name in ("learner.md", "reference.md"):
        text = (DOCS / name).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([a-z_.]+\.md)(?:#([a-z0-9-]+))?\)", text):
            path, anchor = DOCS / target[0], target[1]
            assert path.is_file(), f"{name} links to {target[0]}"
            if anchor:
                assert anchor in _anchors(path.read_text(encoding="utf-8")), f"{name}: #{anchor}"


def _anchors(markdown: str) -> set[str]:
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def marked_blocks() -> list[tuple[str, list[str]]]:
    blocks = []
    for doc in sorted(DOCS.glob("*.md")):
        parts = doc.read_text(encoding="utf-8").split(DOC_TEST + "\n```bash\n")
        for part in parts[1:]:
            blocks.append((doc.name, part.split("\n```", 1)[0].splitlines()))
    return blocks


@pytest.mark.slow
@pytest.mark.parametrize(("doc", "lines"), marked_blocks(), ids=lambda value: str(value)[:20])
def test_marked_examples_run(doc: str, lines: list[str], tmp_path: Path) -> None:
    for line in lines:
        command, _, comment = line.partition("#")
        status = re.match(r"\s*exit (\d+)", comment)
        expected = int(status.group(1)) if status else 0
        words = shlex.split(command)
        program = {"pytest": ["-m", "pytest"], "pytest-tutorial": ["-m", "pytest_tutorial"]}
        result = subprocess.run(
            [sys.executable, *program[words[0]], *words[1:]],
            cwd=tmp_path,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == expected, f"{doc}: `{command.strip()}`:\n{result.stdout}"
