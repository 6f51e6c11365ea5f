"""Mutants an author has judged equivalent: changes no check could ever notice.

Some mutants of a reference do not change what it does (a logged duration, a default that
the checks always override). The tutorial's folder lists them in
``equivalent_mutants.yaml``, each with the reason, so ``verify`` does not report them as
weak spots; every other survivor is one::

    - file: cache_service.py
      change: "constant: `1000` -> `1001`"
      reason: the duration is only logged, never returned

An entry matches a mutant by its file and its ``change`` (the text ``verify`` prints), not
by line number, so editing the reference elsewhere keeps the list valid. An entry that
matches no surviving mutant is reported as stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_tutorial.errors import usage_error
from pytest_tutorial.verify.mutation import Mutant

EQUIVALENTS_FILE = "equivalent_mutants.yaml"
FIELDS = ("file", "change", "reason")


@dataclass(frozen=True)
class Equivalent:
    """One mutant an author judged equivalent, and why."""

    file: str
    change: str
    reason: str

    def matches(self, mutant: Mutant) -> bool:
        """Whether this entry describes ``mutant``."""
        return (self.file, self.change) == (mutant.file, mutant.change)


def load_equivalents(tutorial_dir: Path) -> list[Equivalent]:
    """The tutorial's list (empty when it has none); a usage error naming the entry if bad."""
    import yaml

    path = tutorial_dir / EQUIVALENTS_FILE
    if not path.is_file():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as error:
        raise usage_error(f"{EQUIVALENTS_FILE} is not valid YAML: {error}", path=path) from None
    if not isinstance(data, list):
        raise usage_error("the file must be a list of entries", path=path, fix=_FIX)
    found = []
    for number, entry in enumerate(data, start=1):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(key), str) and entry[key].strip() for key in FIELDS
        ):
            raise usage_error(
                f"entry {number} needs the text fields {', '.join(FIELDS)}", path=path, fix=_FIX
            )
        found.append(Equivalent(entry["file"], entry["change"], entry["reason"]))
    return found


def split_survivors(
    survivors: list[Mutant], equivalents: list[Equivalent]
) -> tuple[list[tuple[Mutant, Equivalent]], list[Mutant], list[Equivalent]]:
    """Survivors judged equivalent (with their entry), the other survivors, stale entries."""
    listed: list[tuple[Mutant, Equivalent]] = []
    weak: list[Mutant] = []
    used: set[Equivalent] = set()
    for mutant in survivors:
        entry = next((e for e in equivalents if e.matches(mutant)), None)
        if entry is None:
            weak.append(mutant)
        else:
            listed.append((mutant, entry))
            used.add(entry)
    return listed, weak, [entry for entry in equivalents if entry not in used]


_FIX = (
    "write a YAML list of {file, change, reason}, with change as verify prints it, e.g. "
    '"constant: `1000` -> `1001`"'
)
