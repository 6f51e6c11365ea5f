"""How a grading child ended, named: which limit or which signal, with the figures.

Every way the grader can end a child names itself in the outcome's detail: the wall clock
and the output cap (the parent stops the child), each resource limit (``RLIMIT_CPU``'s
soft limit sends SIGXCPU and its hard limit, a second later, SIGKILL;
``RLIMIT_FSIZE`` sends SIGXFSZ; ``RLIMIT_AS`` makes allocations fail, which Python raises
as MemoryError), a full scratch folder (the child reports the free space it saw), the
kernel's out-of-memory killer (the machine's ``oom_kill`` count rose while the child ran),
and the sandbox's own exit. A SIGKILL that none of these explains is called what it is:
sent from outside the grader. Each detail carries the figures (peak memory, CPU seconds)
measured by :mod:`.usage`, so a reader can check the explanation against the limits.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from . import results, sandbox
from .results import OutcomeKind
from .usage import Usage

PYTEST_FINISHED = (0, 1, 5)
"""pytest's exit statuses of a run that went through every selected check."""
NEARLY_FULL = 1024 * 1024
"""Free bytes below which the scratch folder counts as full."""


@dataclass(frozen=True)
class Ending:
    """What the parent saw at the end: why it stopped watching, and the figures."""

    why: str
    """``exited``, or :data:`~.OutcomeKind.TIMEOUT` / :data:`~.OutcomeKind.OUTPUT_LIMIT`."""
    returncode: int | None
    usage: Usage
    oom_kills: int | None = 0
    """How many processes the kernel's OOM killer killed on the machine meanwhile (None:
    the count is not readable here)."""
    output_tail: str = ""
    isolated: bool = False
    """The direct child is bubblewrap (which reports a signal N as exit status 128+N)."""


def signal_of(ending: Ending) -> str | None:
    """The name of the signal that ended the child, if one did."""
    code = ending.returncode
    if code is None:
        return None
    number = -code if code < 0 else code - 128 if ending.isolated and 128 < code < 160 else 0
    if not number:
        return None
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def outcome(ending: Ending, limits: sandbox.Limits, state: results.StreamState) -> results.Outcome:
    """The outcome of one submission's run, its detail naming what ended it."""
    figures = f" ({ending.usage.figures()})"
    code = ending.returncode
    if ending.why == OutcomeKind.TIMEOUT:
        return results.Outcome(
            OutcomeKind.TIMEOUT,
            f"the {limits.wall_s:g} s wall-clock limit ran out{figures}",
            code,
        )
    if ending.why == OutcomeKind.OUTPUT_LIMIT:
        return results.Outcome(
            OutcomeKind.OUTPUT_LIMIT,
            f"the submission wrote more than {limits.output_kb} KiB of output{figures}",
            code,
        )
    if not state.hello or state.collected is None:
        # Nothing of the submission has run before collection: this is the grader's failure.
        tail = (state.fatal or ending.output_tail).strip()[-800:]
        who = "the sandbox (bubblewrap) failed" if tail.startswith("bwrap:") else "it stopped"
        return results.Outcome(
            OutcomeKind.NOT_STARTED,
            f"the grading child did not get to run the checks ({who}, exit status {code}): {tail}",
            code,
        )
    full = _scratch_full(state, limits)
    missing = state.missing_verdicts()
    if state.done and state.exit_code in PYTEST_FINISHED and not missing:
        return results.Outcome(OutcomeKind.COMPLETED, full.lstrip("; "), code)
    if state.done and state.exit_code in PYTEST_FINISHED:
        return results.Outcome(
            OutcomeKind.CRASHED,
            f"the child said it was done, but {len(missing)} selected check(s) never reported "
            f"(first: {missing[0]}){full}",
            code,
        )
    if state.done:
        return results.Outcome(
            OutcomeKind.CRASHED,
            f"the check run stopped early (pytest exit status {state.exit_code}: an internal "
            f"error or an interruption, for example after running out of memory){full}{figures}",
            code,
        )
    return results.Outcome(OutcomeKind.CRASHED, describe_exit(ending, limits) + full, code)


def _scratch_full(state: results.StreamState, limits: sandbox.Limits) -> str:
    if state.scratch_free is None or state.scratch_free >= NEARLY_FULL:
        return ""
    return (
        f"; the scratch folder (a {limits.scratch_mb} MB tmpfs, --scratch) was full "
        f"({state.scratch_free} bytes free)"
    )


def describe_exit(ending: Ending, limits: sandbox.Limits, who: str = "the grading process") -> str:
    """Why a child that never said ``done`` ended, naming the limit and the figures.

    ``who``: the process it was (a submission's worker is described the same way).
    """
    usage, code = ending.usage, ending.returncode
    figures = usage.figures()
    name = signal_of(ending)
    if code is None:
        return f"{who} stopped ({figures})"
    if name is None:
        return (
            f"{who} exited with status {code} before every check reported "
            f"(os._exit or exit at import?) ({figures})"
        )
    how = f"killed by {name}"
    if ending.isolated and code > 0:
        how += f" (exit status {code} from the sandbox: 128 + {code - 128})"
    if name == "SIGXCPU":
        why = (
            f"the RLIMIT_CPU soft limit ({limits.cpu_s} s of CPU per process, --cpu) was "
            f"reached: one process used {usage.process_cpu_s:.1f} s"
        )
    elif name == "SIGXFSZ":
        why = f"a file outgrew the RLIMIT_FSIZE limit ({limits.file_size_mb} MB, --file-size)"
    elif name == "SIGKILL":
        why = _sigkill(ending, limits)
    elif name in ("SIGSEGV", "SIGBUS", "SIGABRT", "SIGILL", "SIGFPE"):
        why = f"the process crashed (address-space limit RLIMIT_AS: {limits.memory_mb} MB)"
    else:
        why = "a signal no limit of the grader sends"
    return f"{who} was {how}: {why} ({figures})"


def _sigkill(ending: Ending, limits: sandbox.Limits) -> str:
    usage = ending.usage
    if ending.oom_kills:
        return (
            f"the kernel's out-of-memory killer ({ending.oom_kills} OOM kill(s) on this "
            "machine while it ran)"
        )
    if usage.process_cpu_s >= limits.cpu_s:
        return (
            f"the RLIMIT_CPU hard limit ({limits.cpu_hard_s} s of CPU per "
            f"process): one process used {usage.process_cpu_s:.1f} s, past the soft limit's "
            f"{limits.cpu_s} s, having ignored SIGXCPU"
        )
    return (
        "sent from outside the grader: no limit of the grader sends SIGKILL at these figures "
        f"(memory limit {limits.memory_mb} MB, CPU limit {limits.cpu_s} s per process, most "
        f"used by one process {usage.process_cpu_s:.1f} s), and "
        + (
            "the kernel's OOM killer did not run"
            if ending.oom_kills is not None
            else "whether the kernel's OOM killer ran is not readable here (/proc/vmstat)"
        )
    )
