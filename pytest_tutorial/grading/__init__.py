"""``pytest-tutorial grade``: score untrusted submissions, each in its own contained process.

The parent process (this package, run by :mod:`pytest_tutorial.cli`) never imports a
submission. For each one it makes a fresh copy (:mod:`.archive`), starts
:mod:`.child` inside a sandbox (:mod:`.sandbox`: bubblewrap where it can run, resource
limits always), reads the check results the child streams back as each check finishes
(:mod:`.stream`), and scores and writes every output itself (:mod:`.results`,
:mod:`.outputs`, :mod:`.gradebook`), so a submission that hangs, dies or lies cannot
lose or forge the report. With bubblewrap and workers each job slot forks its children
from a warm process (:mod:`.warm_slots`). :mod:`.batch` runs many submissions
(``--jobs``, ``--shard``); :mod:`.command` and :mod:`.merge` are the command-line front
ends. See ``docs/ci.md``.
"""

from __future__ import annotations
