"""One case per way a resource limit ends the grading process, each graded under tight limits.

The report must name the limit that ended it (with its figures), never guess ("memory or a
limit?"): see :mod:`pytest_tutorial.grading.ending`. :data:`NAMED` says what each detail
must contain. The address-space limit is the corpus case ``memory_bomb``; the wall clock,
``loop_in_method``; the output cap, ``output_flood``.
"""

from __future__ import annotations

from tests.adversarial.case import Case

SPIN = (
    # The time limit per check is longer than the CPU limit here: only rlimits stop this.
    "while True:\n    pass\n"
)

LIMIT_CASES = (
    Case("cpu_spin", SPIN, tight_limits=True),
    Case(
        "ignores_sigxcpu",
        "import signal as _signal\n_signal.signal(_signal.SIGXCPU, _signal.SIG_IGN)\n" + SPIN,
        tight_limits=True,
    ),
    Case(
        "file_size_kill",
        # Python ignores SIGXFSZ (a write fails instead); this puts the default back.
        "import signal as _signal\n_signal.signal(_signal.SIGXFSZ, _signal.SIG_DFL)\n"
        "with open('big.bin', 'wb') as _file:\n"
        "    _file.write(bytes(12 * 1024 * 1024))\n",
        tight_limits=True,
    ),
    Case(
        "fills_scratch",
        # Bounded (96 MiB), so that without a sandbox it does not fill the machine's disk.
        "_written = 0\n"
        "for _number in range(24):\n"
        "    try:\n"
        "        with open(f'fill-{_number}.bin', 'wb') as _file:\n"
        "            _file.write(bytes(4 * 1024 * 1024))\n"
        "    except OSError:\n"
        "        pass\n",
        tight_limits=True,
        needs_sandbox=True,
    ),
)
NAMED = {
    "cpu_spin": ("SIGXCPU", "the RLIMIT_CPU soft limit (2 s of CPU per process, --cpu)"),
    "ignores_sigxcpu": ("SIGKILL", "the RLIMIT_CPU hard limit (3 s of CPU per process)"),
    "file_size_kill": ("SIGXFSZ", "RLIMIT_FSIZE limit (8 MB, --file-size)"),
    "fills_scratch": (None, "the scratch folder (a 64 MB tmpfs, --scratch) was full"),
}
"""Per case: the signal in the report's ``grading.signal`` and what its detail names."""
NAMED_IN_WORKER = {
    "cpu_spin": "killed by SIGXCPU: the RLIMIT_CPU soft limit (2 s of CPU per process, --cpu)",
    "ignores_sigxcpu": "killed by SIGKILL: the RLIMIT_CPU hard limit (3 s of CPU per process)",
    "file_size_kill": "killed by SIGXFSZ: a file outgrew the RLIMIT_FSIZE limit (8 MB",
    "fills_scratch": "the scratch folder (a 64 MB tmpfs, --scratch) was full",
}
"""With ``--isolation worker`` the limit ends the submission's worker, not the grading child:
what the failed checks' messages (or, for the scratch folder, the detail) must contain."""
