"""Find what is left of the course template in a tutorial document.

The template (a copy ships as ``pytest_tutorial/scaffold/tutorial-template.txt``) marks
everything an author must replace with ``[...]``: ``[Skill/Technology]``, ``[MainClass]``,
``[primary_method]``, ``[specific functionality]``, ``[placeholder]``... A document is
finished when none is left. Three rules find them, each with a line number:

- any of the template's own placeholders, exactly, anywhere (prose, code, front matter);
- in prose, any other ``[Capitalised or lower-case text]`` that is not a Markdown link,
  a checkbox or a footnote (code and inline code are left alone: ``items[0]`` is code);
- the template's example values (``contributors: ["author_name"]``, ``"specific skill 1"``,
  its example links such as ``(next-tutorial.md)``) and its closing usage instructions.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "scaffold" / "tutorial-template.txt"

_TOKEN = re.compile(r"\[([^\[\]\n]+)\]")
_PROSE_PLACEHOLDER = re.compile(r"(?<![\w\]\\!])\[([A-Za-z][^\[\]\n]*)\](?![(\[:])")
_LINK = re.compile(r"\[([^\[\]\n]+)\]\(([^)\s]+)\)")
_INLINE_CODE = re.compile(r"`+[^`]*`+")
_QUOTED = re.compile(r'"([^"\n]*)"')
_FENCE = re.compile(r"^\s*(```|~~~)")
_EXAMPLE_VALUES = (
    "author_name",
    "team_name",
    "specific skill 1",
    "specific skill 2",
    "specific skill 3",
)
_USAGE_INSTRUCTIONS = "Template Usage Instructions"


@dataclass(frozen=True)
class Placeholder:
    """One leftover of the template: where it is and what it is."""

    line: int
    text: str
    why: str


@dataclass(frozen=True)
class _Template:
    tokens: frozenset[str]
    links: frozenset[str]
    """The link targets of the template's example links, e.g. ``next-tutorial.md``."""


@functools.cache
def _template() -> _Template:
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    tokens: set[str] = set()
    links: set[str] = set()
    in_code = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_code = not in_code
            continue
        for match in _TOKEN.finditer(line):
            inner = match.group(1)
            before = line[: match.start()]
            after = line[match.end() :]
            if not _looks_like_placeholder(inner):
                continue
            if not in_code and after.startswith("("):
                continue  # a Markdown link's text
            if before[-1:].isalnum() and inner.isalpha() and inner.islower():
                continue  # a subscript such as List[dict]
            tokens.add(inner)
        if not in_code:
            links.update(target for _, target in _LINK.findall(line) if target.endswith(".md"))
    return _Template(frozenset(tokens), frozenset(links))


def _looks_like_placeholder(inner: str) -> bool:
    return (
        inner.strip() not in ("", "x", "X")
        and not inner.startswith(('"', "'", "^"))
        and "(" not in inner
        and any(c.isalpha() for c in inner)
    )


def template_tokens() -> frozenset[str]:
    """The placeholders of the template, without their brackets."""
    return _template().tokens


def find_placeholders(text: str) -> list[Placeholder]:
    """Every leftover of the template in a document's ``text``, in line order."""
    template = _template()
    found: list[Placeholder] = []
    lines = text.splitlines()
    front_end = _front_matter_end(lines)
    in_code = False
    for index, line in enumerate(lines):
        number = index + 1
        if index > front_end and _FENCE.match(line):
            in_code = not in_code
            continue
        seen: set[str] = set()
        for match in _TOKEN.finditer(line):
            inner = match.group(1)
            if inner in template.tokens and not _is_subscript(line, match, inner):
                seen.add(inner)
                found.append(Placeholder(number, f"[{inner}]", "a placeholder of the template"))
        if in_code:
            continue
        if index <= front_end:
            found.extend(_front_matter_leftovers(line, number, seen))
            continue
        prose = _INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line)
        for match in _PROSE_PLACEHOLDER.finditer(prose):
            inner = match.group(1)
            if inner not in seen and inner not in ("x", "X"):
                seen.add(inner)
                found.append(Placeholder(number, f"[{inner}]", "text in brackets, not a link"))
        for inner, target in _LINK.findall(line):
            if target in template.links:
                found.append(
                    Placeholder(number, f"[{inner}]({target})", "the template's example link")
                )
        if _USAGE_INSTRUCTIONS in line:
            found.append(
                Placeholder(number, _USAGE_INSTRUCTIONS, "the template's instructions to authors")
            )
    return found


def _is_subscript(line: str, match: re.Match[str], inner: str) -> bool:
    before = line[: match.start()]
    return before[-1:].isalnum() and inner.isalpha() and inner.islower()


def _front_matter_end(lines: list[str]) -> int:
    if not lines or lines[0].strip() != "---":
        return -1
    return next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), -1)


def _front_matter_leftovers(line: str, number: int, seen: set[str]) -> list[Placeholder]:
    found: list[Placeholder] = []
    for value in _QUOTED.findall(line):
        if value in _EXAMPLE_VALUES:
            found.append(Placeholder(number, f'"{value}"', "an example value of the template"))
            continue
        for match in _PROSE_PLACEHOLDER.finditer(value):
            if match.group(1) not in seen:
                seen.add(match.group(1))
                found.append(
                    Placeholder(number, f"[{match.group(1)}]", "text in brackets, not a link")
                )
    return found
