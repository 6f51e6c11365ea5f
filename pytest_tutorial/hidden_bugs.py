"""Hidden bugs: mutants of a tutorial's correct ``known_bad.py`` build that good tests catch.

The pool, ``hidden_bugs.json`` in the tutorial's folder, lists the mutants
(:mod:`pytest_tutorial.verify.mutation`) of ``known_bad.py`` that the reference solution's own
tests catch, made by ``pytest-tutorial hidden-bugs NAME``. Mutants on a line that handles a
bug flag are never in it (they would be the known bugs again), nor are mutants the
reference's tests miss (an equivalent mutant is no bug) or only catch by hanging.

Every run of the ``tests`` item draws :data:`SAMPLE_SIZE` of them, the same ones for a
tutorial's id and version, builds each as a self-contained module
(:func:`pytest_tutorial.known_bugs.build_module`) and runs the learner's tests against it:
catching at least half (:func:`needed`) is required. The pool records the sha256 of
``known_bad.py`` and each mutant's change, so a pool that no longer matches the source (or
the mutation engine) is refused as stale instead of running the wrong mutants.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_tutorial.known_bugs import BASE_NAME, KnownBad
from pytest_tutorial.verify.mutation import Mutant, find_mutants, mutate

POOL_NAME = "hidden_bugs.json"
SAMPLE_SIZE = 4
"""Hidden bugs drawn per run of the ``tests`` item."""
COMMAND = "pytest-tutorial hidden-bugs"
_PHRASES = {
    "comparison": "a comparison flipped",
    "operator": "an operator swapped",
    "constant": "a constant changed",
    "call": "a call left out",
    "raise": "a raise left out",
    "handler": "an exception handler that re-raises",
    "return": "a result replaced by None",
}


class HiddenBugsError(Exception):
    """The tutorial's pool of hidden bugs is missing, malformed or stale; says how to fix it."""


@dataclass(frozen=True)
class HiddenBug:
    """One mutant of the pool: which one (``index``), its change and its description."""

    index: int
    line: int
    original: str
    mutated: str
    description: str

    def to_json(self) -> dict[str, Any]:
        """Plain values for the pool file."""
        return {
            "index": self.index,
            "line": self.line,
            "original": self.original,
            "mutated": self.mutated,
            "description": self.description,
        }


@dataclass(frozen=True)
class Pool:
    """A tutorial's ``hidden_bugs.json``."""

    path: Path
    base_sha256: str
    bugs: tuple[HiddenBug, ...]


def sha256(source: str) -> str:
    """The fingerprint of ``known_bad.py`` a pool is made for."""
    return hashlib.sha256(source.encode()).hexdigest()


def needed(drawn: int) -> int:
    """How many of ``drawn`` hidden bugs the learner's tests must catch: at least half."""
    return math.ceil(drawn / 2)


def candidates(known: KnownBad) -> list[Mutant]:
    """The mutants of ``known_bad.py`` worth trying: not on a flag's line, not a declaration."""
    lines = known.source.splitlines()
    flag = re.compile(r"\b(?:" + "|".join(map(re.escape, known.defaults)) + r")\b")
    chosen = []
    for mutant in find_mutants(known.source, BASE_NAME):
        text = lines[mutant.line - 1] if 0 < mutant.line <= len(lines) else ""
        if mutant.line in known.declaration_lines or flag.search(text):
            continue
        try:
            compile(mutate(known.source, mutant), BASE_NAME, "exec")
        except SyntaxError:
            continue
        chosen.append(mutant)
    return chosen


def describe(known: KnownBad, mutant: Mutant) -> str:
    """One line for a learner: the kind of change, where, and the change itself."""
    where = _function_at(known, mutant.line)
    place = f" in {where}" if where else ""
    phrase = _PHRASES.get(mutant.operator, "a small change")
    dropped_not = not mutant.mutated.startswith(("not ", "(not "))
    if mutant.operator == "operator" and mutant.original.startswith("not ") and dropped_not:
        phrase = "a `not` left out"
    return f"{phrase}{place} ({BASE_NAME}:{mutant.line}: `{mutant.original}` -> `{mutant.mutated}`)"


def hidden_bug(known: KnownBad, mutant: Mutant) -> HiddenBug:
    """The pool's entry for ``mutant``."""
    return HiddenBug(
        mutant.index, mutant.line, mutant.original, mutant.mutated, describe(known, mutant)
    )


def source_of(known: KnownBad, bug: HiddenBug) -> str:
    """The self-contained module of one hidden bug (its mutant, bug flags off)."""
    mutant = _mutants(known.source)[bug.index]
    return known.build(mutate(known.source, mutant))


@functools.lru_cache(maxsize=4)
def _mutants(source: str) -> tuple[Mutant, ...]:
    """The mutants of one ``known_bad.py`` source, listed once for the pool and its draws."""
    return tuple(find_mutants(source, BASE_NAME))


def write_pool(tutorial_dir: Path, known: KnownBad, bugs: list[HiddenBug], note: str) -> Path:
    """Write ``hidden_bugs.json`` for the current ``known_bad.py``."""
    path = tutorial_dir / POOL_NAME
    document = {
        "about": f"Mutants of {BASE_NAME} (bug flags off) that the reference solution's tests "
        f"catch; the tests item draws {SAMPLE_SIZE} of them. Made by `{COMMAND} "
        f"{tutorial_dir.name}`: {note}",
        "base": BASE_NAME,
        "base_sha256": sha256(known.source),
        "bugs": [bug.to_json() for bug in bugs],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def load_pool(tutorial_dir: Path, known: KnownBad) -> Pool:
    """The tutorial's pool, checked against ``known_bad.py``; HiddenBugsError if unusable."""
    path = tutorial_dir / POOL_NAME
    fix = f"run `{COMMAND} {tutorial_dir.name}` (docs/authoring.md, Hidden bugs)"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        bugs = tuple(
            HiddenBug(
                int(entry["index"]),
                int(entry["line"]),
                str(entry["original"]),
                str(entry["mutated"]),
                str(entry["description"]),
            )
            for entry in document["bugs"]
        )
        pool = Pool(path, str(document["base_sha256"]), bugs)
    except FileNotFoundError:
        raise HiddenBugsError(f"{path} does not exist: {fix}") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise HiddenBugsError(f"{path} cannot be read ({error}): {fix}") from None
    problems = stale_reasons(known, pool)
    if problems:
        raise HiddenBugsError(f"{path} is stale ({problems[0]}): {fix}")
    return pool


def stale_reasons(known: KnownBad, pool: Pool) -> list[str]:
    """Why ``pool`` no longer fits ``known_bad.py``; empty when it does."""
    if pool.base_sha256 != sha256(known.source):
        return [f"made for another version of {BASE_NAME}"]
    mutants = _mutants(known.source)
    problems = []
    for bug in pool.bugs:
        mutant = mutants[bug.index] if 0 <= bug.index < len(mutants) else None
        if mutant is None or (mutant.line, mutant.original, mutant.mutated) != (
            bug.line,
            bug.original,
            bug.mutated,
        ):
            problems.append(f"mutant {bug.index} is no longer `{bug.original}` -> `{bug.mutated}`")
    return problems


def sample(pool: Pool, tutorial_id: str, version: str, size: int = SAMPLE_SIZE) -> list[HiddenBug]:
    """``size`` bugs of the pool, always the same for a tutorial's id and version."""
    chooser = random.Random(f"{tutorial_id}:{version}")
    drawn = chooser.sample(list(pool.bugs), min(size, len(pool.bugs)))
    return sorted(drawn, key=lambda bug: bug.index)


def _function_at(known: KnownBad, line: int) -> str:
    """The qualified name (public class names) of the innermost function holding ``line``."""
    found = ""

    def visit(node: ast.AST, prefix: str) -> None:
        nonlocal found
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = known.public_names.get(child.name, child.name)
                qualified = f"{prefix}{name}"
                if child.lineno <= line <= (child.end_lineno or child.lineno):
                    if not isinstance(child, ast.ClassDef):
                        found = qualified
                    visit(child, f"{qualified}.")

    visit(ast.parse(known.source), "")
    return found
