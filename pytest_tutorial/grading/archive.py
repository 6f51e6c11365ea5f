"""Make a fresh, safe copy of one submission: a folder, or a .zip/.tar.gz as an LMS exports it.

Nothing in a submission may reach outside the copy: entries with absolute paths or ``..``
are skipped, links are never created (a link inside a folder is copied as the file it
points to when that file is inside the submission, and skipped otherwise), special files
are skipped, and the total size and number of files are bounded while unpacking (the
sizes an archive declares are not trusted). A wrapper folder (``alice/cache_service.py``)
is unwrapped: the copy's root is the shallowest folder holding the tutorial's module.
A ``conftest.py`` at that root is dropped, so it cannot reach the learner-tests runs.
The work is bounded in time and memory by running it in a limited child (:mod:`.unpacker`).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from . import untrusted

MAX_BYTES = 64 * 1024 * 1024
MAX_FILES = 5000
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".hypothesis",
        ".benchmarks",
        ".venv",
        "venv",
        "node_modules",
        "__MACOSX",
        ".pytest-tutorial",
    }
)
DROPPED_AT_ROOT = ("conftest.py",)
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")
_CHUNK = 1024 * 1024


class SubmissionError(Exception):
    """The submission cannot be graded at all (not found, not an archive, too large)."""


@dataclass
class Copy:
    """The fresh copy and what was left out of it, for the report."""

    root: Path
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """Why the copy may not be what the learner meant to hand in (empty, no module)."""
    size: int = 0
    """Bytes written into the copy."""


def submission_id(source: Path) -> str:
    """A name for the submission: the folder's name or the archive's without its suffix.

    Safe as a folder name under the output folder: no separators, no leading dot.
    """
    name = source.name or source.resolve().name
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)] or name
            break
    return re.sub(r"[^\w.-]", "_", name).lstrip(".") or "submission"


def is_archive(source: Path) -> bool:
    """Whether ``source`` names an archive this module unpacks."""
    return source.name.lower().endswith(ARCHIVE_SUFFIXES)


def make_copy(
    source: Path,
    target: Path,
    *,
    module_file: str,
    max_bytes: int = MAX_BYTES,
    max_files: int = MAX_FILES,
) -> Copy:
    """Copy or unpack ``source`` into the empty folder ``target``; return the copy's root.

    ``module_file`` (``cache_service.py``) finds the root inside wrapper folders.
    Raises :class:`SubmissionError` when nothing usable can be made.
    """
    target.mkdir(parents=True, exist_ok=True)
    budget = _Budget(max_bytes, max_files)
    copy = Copy(target)
    if source.is_dir():
        _copy_folder(source, target, budget, copy.skipped)
    elif source.is_file() and is_archive(source):
        if source.stat().st_size > max_bytes:
            raise SubmissionError(
                f"{source.name} is larger than {_mib(max_bytes)}, the most a submission may "
                "hold unpacked"
            )
        if source.name.lower().endswith(".zip"):
            _unzip(source, target, budget, copy.skipped)
        else:
            _untar(source, target, budget, copy.skipped)
    elif source.exists():
        raise SubmissionError(f"{source} is neither a folder nor a .zip/.tar.gz archive")
    else:
        raise SubmissionError(f"{source} does not exist")
    copy.size = budget.written
    copy.skipped = [untrusted.text(entry, 300) for entry in copy.skipped]
    copy.root = _locate_root(target, module_file)
    for name in DROPPED_AT_ROOT:
        dropped = copy.root / name
        if dropped.is_file():
            dropped.unlink()
            copy.skipped.append(f"{name} (a conftest.py at the root is ignored when grading)")
    if not any(path.is_file() for path in target.rglob("*")):
        copy.warnings.append("the submission is empty: it holds no file that is graded")
    elif not (copy.root / module_file).is_file():
        copy.warnings.append(
            f"the submission holds no {module_file}: every check will fail (wrong folder or "
            "file name?)"
        )
    return copy


class _Budget:
    """Bytes and files left; raises once either runs out."""

    def __init__(self, max_bytes: int, max_files: int) -> None:
        self.bytes = max_bytes
        self.files = max_files
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.written = 0

    def take_file(self) -> None:
        self.take_files(1)

    def take_files(self, count: int) -> None:
        self.files -= count
        if self.files < 0:
            raise SubmissionError(
                f"the submission has more than {self.max_files} files or archive entries "
                "(folders such as .git/ and node_modules/ count too, though grading skips "
                "them: leave them out of the archive)"
            )

    def take_bytes(self, count: int) -> None:
        self.bytes -= count
        if self.bytes < 0:
            raise SubmissionError(
                f"the submission is larger than {_mib(self.max_bytes)} unpacked (every entry "
                "of an archive counts, also those grading skips, such as .git/)"
            )


def _mib(count: int) -> str:
    return f"{count / (1024 * 1024):.4g} MiB"


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The path components of an archive entry, or None when it would escape the target."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and ":" in path.parts[0]):
        return None
    parts = tuple(part for part in path.parts if part not in ("", "."))
    if not parts or any(part == ".." for part in parts):
        return None
    return parts


def _wanted(parts: tuple[str, ...]) -> bool:
    return not any(part in SKIPPED_DIRS for part in parts)


def _write(stream: IO[bytes], destination: Path, budget: _Budget, *, charge: bool = True) -> None:
    """Copy a stream into a new regular file, counting every byte actually read.

    ``charge``: take the bytes and the file from the budget here (a tar's members are
    charged by the stream they come from instead).
    """
    if charge:
        budget.take_file()
    destination.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(destination, flags, 0o644), "wb") as out:
        while chunk := stream.read(_CHUNK):
            if charge:
                budget.take_bytes(len(chunk))
            budget.written += len(chunk)
            out.write(chunk)


def _copy_folder(source: Path, target: Path, budget: _Budget, skipped: list[str]) -> None:
    root = source.resolve()
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(directory)
        relative = here.relative_to(root)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for name in [*dirnames]:
            if (here / name).is_symlink():
                dirnames.remove(name)
                skipped.append(f"{relative / name} (a link to a folder)")
        for name in sorted(filenames):
            entry = here / name
            shown = str(relative / name)
            try:
                mode = entry.lstat().st_mode
                if stat.S_ISLNK(mode):
                    real = entry.resolve(strict=True)
                    if not real.is_relative_to(root) or not real.is_file():
                        skipped.append(f"{shown} (a link out of the submission)")
                        continue
                elif not stat.S_ISREG(mode):
                    skipped.append(f"{shown} (not a regular file)")
                    continue
                with open(entry, "rb") as stream:
                    _write(stream, target / relative / name, budget)
            except OSError as error:
                skipped.append(f"{shown} ({error.strerror or error})")


def _unzip(source: Path, target: Path, budget: _Budget, skipped: list[str]) -> None:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        raise SubmissionError(f"{source.name} is not a readable zip archive: {error}") from None
    with archive:
        entries = archive.infolist()
        budget.take_files(len(entries))  # skipped entries too; written files count again
        budget.files = budget.max_files
        for info in entries:
            parts = _safe_parts(info.filename)
            if parts is None:
                skipped.append(f"{info.filename} (a path outside the submission)")
                continue
            if info.is_dir() or not _wanted(parts):
                continue
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind not in (0, stat.S_IFREG):  # 0: no Unix mode recorded (e.g. Windows)
                skipped.append(f"{info.filename} (a link or special file)")
                continue
            try:
                with archive.open(info) as stream:
                    _write(stream, target.joinpath(*parts), budget)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as error:
                skipped.append(f"{info.filename} ({error})")


def _decompressed(raw: IO[bytes]) -> IO[bytes] | gzip.GzipFile:
    """The tar inside ``raw``, decompressed by what its first bytes say (never its name)."""
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw, mode="rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw, mode="rb")
    return raw


_TAR_ERRORS = (tarfile.TarError, EOFError, OSError, lzma.LZMAError, zlib.error)


class _Metered:
    """A tar's decompressed stream that charges every byte read to the budget.

    tarfile reads a skipped member's data (and a pax header's, which it keeps in memory)
    through here too, a chunk at a time, so the budget stops it before the bytes exist.
    """

    def __init__(self, inner: IO[bytes] | gzip.GzipFile, budget: _Budget) -> None:
        self.inner = inner
        self.budget = budget

    def read(self, size: int = -1) -> bytes:
        want = _CHUNK if size is None or size < 0 else min(size, _CHUNK)
        data = self.inner.read(want)
        self.budget.take_bytes(len(data))
        return data


def _untar(source: Path, target: Path, budget: _Budget, skipped: list[str]) -> None:
    try:
        with source.open("rb") as raw:
            inner = _decompressed(raw)
            metered: Any = _Metered(inner, budget)
            with inner, tarfile.open(fileobj=metered, mode="r|") as bundle:
                _untar_members(bundle, target, budget, skipped)
    except _TAR_ERRORS as error:
        raise SubmissionError(f"{source.name} is not a readable tar archive: {error}") from None


def _untar_members(
    bundle: tarfile.TarFile, target: Path, budget: _Budget, skipped: list[str]
) -> None:
    for member in _members(bundle):
        budget.take_file()
        parts = _safe_parts(member.name)
        if parts is None:
            skipped.append(f"{member.name} (a path outside the submission)")
            continue
        if member.isdir() or not _wanted(parts):
            continue
        if not member.isfile():
            skipped.append(f"{member.name} (a link or special file)")
            continue
        stream = bundle.extractfile(member)
        if stream is not None:
            with stream:
                _write(stream, target.joinpath(*parts), budget, charge=False)


def _members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (member := archive.next()) is not None:
        yield member


def _locate_root(target: Path, module_file: str) -> Path:
    """The shallowest folder holding ``module_file``; ``target`` when there is none."""
    depth = module_file.count("/")
    found = sorted(
        (path.parents[depth] for path in target.rglob(module_file) if path.is_file()),
        key=lambda folder: (len(folder.parts), str(folder)),
    )
    if found:
        return found[0]
    entries = [entry for entry in target.iterdir()]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return target


def remove_tree(path: Path) -> None:
    """Delete a work folder, whatever the submission left in it."""
    shutil.rmtree(path, ignore_errors=True)
