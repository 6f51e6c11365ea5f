"""Copy or unpack one submission in a child process, under the submission's own limits.

Unpacking is work the submission chooses: a 10 KB archive can hold gigabytes of zeros,
and a tar's pax header is kept in memory whole. So :func:`make_copy` runs
:func:`.archive.make_copy` the way the submission's code runs: in a child process with
the address-space, CPU and file-size limits, started inside the submission's wall-clock
limit and killed (with its process group) when that runs out. Whatever goes wrong there is
the submission's: :class:`~.archive.SubmissionError`, which grades it ``invalid``.

The child is ``python -I -B -m pytest_tutorial.grading.unpacker`` and prints one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from . import archive, sandbox, untrusted

MODULE = "pytest_tutorial.grading.unpacker"
MAX_REPLY = 256 * 1024


def make_copy(
    source: Path, target: Path, *, module_file: str, limits: sandbox.Limits, deadline: float
) -> archive.Copy:
    """The fresh copy of ``source`` in ``target``, made before ``deadline`` (monotonic).

    Raises :class:`~.archive.SubmissionError` when it cannot be made within the limits,
    RuntimeError when the grader's own work folder fails.
    """
    command = [
        sys.executable,
        "-I",
        "-B",
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
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"},
        cwd="/",
        start_new_session=True,
    )
    try:
        reply, errors = process.communicate(timeout=max(deadline - time.monotonic(), 0.0))
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise archive.SubmissionError(
            f"unpacking the submission did not finish within the {limits.wall_s:g} s "
            "wall-clock limit"
        ) from None
    return _copy_from_reply(
        reply, errors, process.returncode, Path(os.path.abspath(target)), limits
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
    try:
        copy = archive.make_copy(args.source, args.target, module_file=args.module_file)
        reply: dict[str, Any] = {
            "root": str(copy.root),
            "skipped": copy.skipped[:100],
            "warnings": copy.warnings,
            "size": copy.size,
        }
    except archive.SubmissionError as error:
        reply = {"error": str(error)}
    except MemoryError:
        reply = {"error": f"unpacking needed more than the {args.limits.memory_mb} MB memory limit"}
    except RecursionError:
        reply = {"error": "the submission's folders are nested too deeply"}
    except OSError as error:  # the work folder's (disk full, permissions): the grader's
        reply = {"grader_error": f"{error.strerror or error} ({error.filename})"}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
