"""Enter a learner process's limits, then become it: ``python -m pytest_tutorial.grading.enter``.

``... enter --limits JSON [--uid N] -- COMMAND...`` sets the resource limits, turns on
``no_new_privs``, drops to uid ``N`` when started as root, and replaces itself with
``COMMAND`` (``os.execv``: same pid, same inherited file descriptors). It is the last step
of :class:`~pytest_tutorial.grading.learner_box.LearnerBox`'s prefix, so every process
that runs learner code starts limited and unprivileged before any of that code is read.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from pytest_tutorial.grading import sandbox


def main(argv: list[str] | None = None) -> NoReturn:
    """Apply the limits and the uid, then exec the command after ``--``."""
    parser = argparse.ArgumentParser(prog="python -m pytest_tutorial.grading.enter")
    parser.add_argument("--limits", required=True, help="sandbox.Limits as JSON")
    parser.add_argument("--uid", type=int, default=None, help="drop to this uid (as root)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run is needed after --")
    limits = sandbox.Limits.from_json(args.limits)
    dropping = args.uid is not None and os.geteuid() == 0
    # RLIMIT_NPROC counts per uid: it binds only a uid of the learner's own, or a non-root one.
    sandbox.apply_rlimits(limits, processes=dropping or os.geteuid() != 0)
    sandbox.no_new_privileges()
    if dropping:
        sandbox.drop_to(args.uid)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
