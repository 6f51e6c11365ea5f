"""Copy or unpack one submission in a child process, under the submission's own limits.

Unpacking is work the submission chooses: a 10 KB archive can hold gigabytes of zeros,
and a tar's pax header is kept in memory whole. So :func:`make_copy` runs
:func:`.archive.make_copy` the way the submission's code runs: in a child process with
the address-space, CPU and file-size limits, started inside the submission's wall-clock
limit and killed (with its process group) when that runs out. Whatever goes wrong there is
the submission's: :class:`~.archive.SubmissionError`, which grades it ``invalid``.

The child is ``python -I -B -m pytest_tutorial.grading.unpacker`` and prints one JSON line;
or, in a batch, a fork of one warm process started that way (:class:`WarmUnpacker`), which
spares each submission an interpreter's start (about 0.09 s of CPU, a twentieth of a graded
submission's). That process is single-threaded and never unpacks anything itself, so each
child starts from the same untouched state, with the same limits as a new process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

from . import archive, sandbox, untrusted

MODULE = "pytest_tutorial.grading.unpacker"
MAX_REPLY = 256 * 1024
CHILD_ENVIRONMENT = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
"""The whole environment of the unpacking child (and of the warm process that forks it)."""
PYTHON_FLAGS = ("-I", "-B")
"""Isolated mode (no user site, no ``PYTHON*`` variables), no bytecode written."""
FORKED_TARGET = f"{MODULE}:copy_forked"


def make_copy(
    source: Path, target: Path, *, module_file: str, limits: sandbox.Limits, deadline: float
) -> archive.Copy:
    """The fresh copy of ``source`` in ``target``, made before ``deadline`` (monotonic).

    Raises :class:`~.archive.SubmissionError` when it cannot be made within the limits,
    RuntimeError when the grader's own work folder fails.
    """
    remaining = _time_left(deadline, limits)
    command = [
        sys.executable,
        *PYTHON_FLAGS,
        "-m",
        MODULE,
        "--source",
        os.path.abspath(source),
        "--target",
        os.path.abspath(target),
        "--module-file",
        module_file,
        "--limits",
        limits.to_json(),
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=CHILD_ENVIRONMENT,
        cwd="/",
        start_new_session=True,
    )
    try:
        reply, errors = process.communicate(timeout=remaining)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise _too_slow(limits) from None
    return _copy_from_reply(
        reply, errors, process.returncode, Path(os.path.abspath(target)), limits
    )


class WarmUnpacker:
    """Makes a batch's copies in children forked from one warm process, else as new ones.

    The warm process (:class:`~pytest_tutorial.warm.WarmServer`) is started as the new
    child would be (``python -I -B``, :data:`CHILD_ENVIRONMENT`, in ``/``) with this module
    imported. Each copy is one forked child: in a session of its own, under the
    submission's limits (set in the child, as :func:`main` sets them), killed with its
    process group at the wall-clock deadline. Where the process cannot start, or dies,
    :func:`make_copy` starts a new child instead. Safe to use from several threads.
    """

    def __init__(self) -> None:
        from pytest_tutorial.warm import WarmServer

        self._server = WarmServer.start(
            [MODULE],
            python_flags=PYTHON_FLAGS,
            env=CHILD_ENVIRONMENT,
            cwd=Path("/"),
            mine_constants=False,
        )

    @property
    def warm(self) -> bool:
        """Whether copies are forked (False: each starts a new interpreter)."""
        return self._server is not None and self._server.alive

    def make_copy(
        self,
        source: Path,
        target: Path,
        *,
        module_file: str,
        limits: sandbox.Limits,
        deadline: float,
    ) -> archive.Copy:
        """As :func:`make_copy`, in a forked child while the warm process answers."""
        from pytest_tutorial.warm import ServerGone

        server = self._server
        if server is None or not server.alive:
            return make_copy(
                source, target, module_file=module_file, limits=limits, deadline=deadline
            )
        remaining = _time_left(deadline, limits)
        target = Path(os.path.abspath(target))
        with tempfile.TemporaryDirectory(prefix="pytest-tutorial-unpack-") as name:
            folder = Path(name)
            reply_file, output = folder / "reply.json", folder / "output.txt"
            payload = {
                "source": os.path.abspath(source),
                "target": str(target),
                "module_file": module_file,
                "limits": limits.to_json(),
                "reply": str(reply_file),
            }
            try:
                ended = server.run(
                    FORKED_TARGET, payload, output=output, timeout_s=remaining, cwd=Path("/")
                )
            except ServerGone:
                archive.remove_tree(target)  # whatever the lost child made
                return make_copy(
                    source, target, module_file=module_file, limits=limits, deadline=deadline
                )
            code = ended.exit_code
            if code is None:  # killed at the wall-clock deadline
                raise _too_slow(limits)
            reply = reply_file.read_bytes() if reply_file.is_file() else b""
            errors = output.read_bytes() if output.is_file() else b""
        return _copy_from_reply(reply, errors, code, target, limits)

    def close(self) -> None:
        """Stop the warm process (and any copy still being made)."""
        if self._server is not None:
            self._server.close()


def _time_left(deadline: float, limits: sandbox.Limits) -> float:
    """Seconds until ``deadline``; past it, the submission ran out of wall-clock time."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _too_slow(limits)
    return remaining


def _too_slow(limits: sandbox.Limits) -> archive.SubmissionError:
    return archive.SubmissionError(
        f"unpacking the submission did not finish within the {limits.wall_s:g} s wall-clock limit"
    )


def _copy_from_reply(
    reply: bytes, errors: bytes, code: int, target: Path, limits: sandbox.Limits
) -> archive.Copy:
    data = _decode(reply)
    if isinstance(data.get("grader_error"), str):
        raise RuntimeError(f"the copy could not be made: {data['grader_error']}")
    if isinstance(data.get("error"), str):
        raise archive.SubmissionError(untrusted.text(data["error"], 1000))
    root = data.get("root")
    if code != 0 or not isinstance(root, str):
        raise archive.SubmissionError(_died(code, errors, limits))
    located = Path(root)
    if not (located == target or located.is_relative_to(target)):
        raise archive.SubmissionError("unpacking gave a folder outside the copy")
    return archive.Copy(
        located,
        skipped=[untrusted.text(e, 300) for e in data.get("skipped", []) if isinstance(e, str)],
        warnings=[untrusted.text(e, 300) for e in data.get("warnings", []) if isinstance(e, str)],
        size=int(untrusted.number(data.get("size")) or 0),
    )


def _decode(reply: bytes) -> dict[str, Any]:
    try:
        data = json.loads(reply[-MAX_REPLY:].decode("utf-8", errors="replace") or "{}")
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _died(code: int, errors: bytes, limits: sandbox.Limits) -> str:
    text = untrusted.text(errors.decode("utf-8", errors="replace").strip()[-300:], 300)
    if "MemoryError" in text:
        return f"unpacking the submission needed more than the {limits.memory_mb} MB memory limit"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        limit = {
            "SIGXCPU": f": the {limits.cpu_s} s CPU limit",
            "SIGXFSZ": f": the {limits.file_size_mb} MB file size limit",
        }.get(name, "")
        return f"unpacking the submission was killed by {name}{limit}"
    return f"unpacking the submission failed (exit status {code}): {text}"


def main(argv: list[str] | None = None) -> NoReturn:
    """The child: set the limits, make the copy, print the result as one JSON line."""
    parser = argparse.ArgumentParser(prog=MODULE)
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--target", type=Path, required=True)
    parser.add_argument("--module-file", required=True)
    parser.add_argument("--limits", type=sandbox.Limits.from_json, required=True)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    sandbox.apply_rlimits(args.limits, processes=False)
    reply = _copied(args.source, args.target, args.module_file, args.limits)
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
    os._exit(0)


def copy_forked(payload: dict[str, Any]) -> int:
    """The warm process's target: :func:`main`'s work, its reply written to ``reply``.

    The reply's file is opened before the limits are set, so a low ``--open-files`` does
    not keep the reply from the parent.
    """
    limits = sandbox.Limits.from_json(payload["limits"])
    with open(payload["reply"], "w", encoding="utf-8") as reply_file:
        sandbox.apply_rlimits(limits, processes=False)
        source, target = Path(payload["source"]), Path(payload["target"])
        reply = _copied(source, target, payload["module_file"], limits)
        reply_file.write(json.dumps(reply) + "\n")
    return 0


def _copied(source: Path, target: Path, module_file: str, limits: sandbox.Limits) -> dict[str, Any]:
    """Make the copy under the limits already set; the reply the parent reads."""
    try:
        copy = archive.make_copy(source, target, module_file=module_file)
        return {
            "root": str(copy.root),
            "skipped": copy.skipped[:100],
            "warnings": copy.warnings,
            "size": copy.size,
        }
    except archive.SubmissionError as error:
        return {"error": str(error)}
    except MemoryError:
        return {"error": f"unpacking needed more than the {limits.memory_mb} MB memory limit"}
    except RecursionError:
        return {"error": "the submission's folders are nested too deeply"}
    except OSError as error:  # the work folder's (disk full, permissions): the grader's
        return {"grader_error": f"{error.strerror or error} ({error.filename})"}


if __name__ == "__main__":
    main()
