"""One submission of the adversarial corpus, and how it is built.

A :class:`Case` is built from the starter (``exercises/caching``) or the reference
solution, with its own code appended to ``cache_service.py`` or put in its place, and
extra files. ``$port``, ``$out`` and ``$repo`` in the code are filled in when the case is
built (a loopback listener of the test, the batch's output folder, the repository).
"""

from __future__ import annotations

import bz2
import io
import shutil
import string
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE = "cache_service.py"


@dataclass(frozen=True)
class Case:
    """One submission of the corpus."""

    name: str
    code: str = ""
    """Appended to ``cache_service.py`` (or replacing it when ``replace``)."""
    replace: bool = False
    base: str = "exercises"
    files: dict[str, str] = field(default_factory=dict)
    archive: str = ""
    """``zip`` or ``tar.gz``: hand the case in as an archive (with a wrapper folder)."""
    learner_tests: bool = False
    needs_sandbox: bool = False
    """Only contained by bubblewrap (network, reading the grader's files)."""
    tight_limits: bool = False
    """Graded in the batch with small CPU, file and scratch limits (each limit's kill)."""
    bomb_gib: int = 0
    """Hand the case in as a .tar.bz2 led by this many GiB of zeros under ``.git/``."""

    def build(self, folder: Path, values: dict[str, str]) -> Path:
        """Write the case under ``folder``; return the path to hand to ``grade``."""
        root = folder / self.name
        shutil.copytree(
            REPO / self.base / "caching",
            root,
            ignore=shutil.ignore_patterns("__pycache__", ".benchmarks", ".hypothesis"),
        )
        code = string.Template(self.code).substitute(values)
        module = root / MODULE
        module.write_text(
            code if self.replace else module.read_text(encoding="utf-8") + "\n" + code,
            encoding="utf-8",
        )
        for name, text in self.files.items():
            (root / name).write_text(string.Template(text).substitute(values), encoding="utf-8")
        if self.bomb_gib:
            return _zeros_bomb(root, folder / f"{self.name}.tar.bz2", self.bomb_gib)
        if self.archive == "zip":
            target = folder / f"{self.name}.zip"
            with zipfile.ZipFile(target, "w") as bundle:
                for path in sorted(root.rglob("*")):
                    bundle.write(path, f"wrapper/{path.relative_to(root)}")
            return target
        if self.archive == "tar.gz":
            target = folder / f"{self.name}.tar.gz"
            with tarfile.open(target, "w:gz") as bundle:
                bundle.add(root, arcname=f"export-{self.name}")
            return target
        return root


def _zeros_bomb(root: Path, target: Path, gib: int) -> Path:
    """A .tar.bz2 of a few tens of KB: ``gib`` GiB of zeros under ``.git/``, then ``root``.

    The zeros are concatenated bz2 streams of 16 MiB each, which bz2 reads as one stream.
    """
    zeros = tarfile.TarInfo(".git/objects/pack/pack-zeros.pack")
    zeros.size = gib * 1024**3
    block = bz2.compress(bytes(16 * 1024 * 1024))
    rest = io.BytesIO()
    with tarfile.open(fileobj=rest, mode="w", format=tarfile.GNU_FORMAT) as bundle:
        bundle.add(root, arcname=root.name)
    with target.open("wb") as out:
        out.write(bz2.compress(zeros.tobuf(format=tarfile.GNU_FORMAT)))
        for _ in range(gib * 64):
            out.write(block)
        out.write(bz2.compress(rest.getvalue()))
    return target
