"""Attacks on the grading parent itself: the result stream, the batch's files, unpacking.

Code in the child's process can find the result streamer (it is an object in its memory)
and write to the stream with the token, or without it; it can name itself like a batch
file; it can hand in an archive that costs far more to unpack than it weighs. None of it
may break the batch, change its exit status, or be counted as the grader's failure.

Two cases are pinned as known outcomes (``docs/ci.md``, "What containment cannot do"):
code sharing the process with the checks can forge every verdict. Only running the checks
in a trusted process apart from the submission (a later issue) defeats them.
"""

from __future__ import annotations

from tests.adversarial.case import Case

FIND_STREAMER = (
    "import os as _os, sys as _sys\n"
    "_frame = _sys._getframe()\n"
    "while 'streamer' not in _frame.f_locals:\n"
    "    _frame = _frame.f_back\n"
    "_streamer = _frame.f_locals['streamer']\n"
)
"""Finds the child's result streamer (its token, its pipe and its methods): a local of the
child's main function, up the stack that imports the submission. (Not through
``gc.get_objects()``: a tutorial run freezes its start-up heap, which that no longer lists.)"""

STREAM_CASES = (
    Case(
        "surrogate_message",
        # Every check reports this import error; junit.xml was written strictly as UTF-8.
        "raise RuntimeError('lone \\ud800 surrogate, \\x00 nul, \\x1b[2J escape, \\ufffe')\n",
    ),
    Case("gradebook.json"),
    Case("gradebook.csv"),
    Case("summary.md"),
    Case("submissions"),
    Case(
        "forged_blank_fatal",
        FIND_STREAMER + "_streamer.emit('fatal', traceback='   \\n  ')\n",
    ),
    Case(
        "nested_json_line",
        # No token needed: the parent has to decode the line to find out.
        FIND_STREAMER + "_os.write(_streamer._fd, b'[' * 100000 + b']' * 100000 + b'\\n')\n",
    ),
    Case(
        "hostile_types",
        FIND_STREAMER + "for _nodeid in list(_streamer._ids.values()):\n"
        "    _streamer.emit('start', nodeid=_nodeid)\n"
        "    _streamer.emit('result', nodeid=_nodeid, status=['passed'])\n"
        "    _streamer.emit('result', nodeid=_nodeid, status={'passed': 1})\n"
        "    _streamer.emit('result', nodeid=_nodeid, status='failed', duration_s=10**1000)\n"
        "_streamer.emit('collected', checks=7, selected=7, deselected=None)\n"
        "_streamer.emit('hello', pid=[[[[[]]]]], uid=10**1000)\n",
    ),
    Case(
        "forged_done_then_exit",
        # Claims the run is over, then ends before any check reported.
        FIND_STREAMER + "_streamer.emit('done', exit_code=0)\n_os._exit(0)\n",
        base="reference_solutions",
    ),
    Case("tar_bz2_bomb", bomb_gib=8),
    Case(
        "wraps_the_streamer",
        # Pinned: rewrites every verdict it sends.
        FIND_STREAMER + "_emit = _streamer.emit\n"
        "def _forged(event, **fields):\n"
        "    if event == 'result':\n"
        "        fields.update(status='passed', message='')\n"
        "    _emit(event, **fields)\n"
        "_streamer.emit = _forged\n",
    ),
    Case(
        "forces_verdicts",
        # Pinned: patches how the streamer judges a check.
        FIND_STREAMER + "type(_streamer)._verdict = lambda self, check: ('passed', '')\n",
    ),
)
FORGED_FROM_INSIDE = frozenset({"wraps_the_streamer", "forces_verdicts"})
"""Cases that forge every verdict from inside the child's process (pinned)."""
