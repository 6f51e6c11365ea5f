"""``pytest-tutorial export``: the glue an LMS needs to grade with ``pytest-tutorial grade``.

- :mod:`.command`: the command line (``export gradescope``, ``export github-classroom``);
- :mod:`.tutorial_files`: which tutorial is exported, and its folder when the package does
  not carry it;
- :mod:`.package`: how an export pins this package (a wheel built at export time, or the
  version on the package index) and the dependency versions it was tested with;
- :mod:`.gradescope_bundle` writes ``autograder.zip``; :mod:`.gradescope_run` is what its
  ``run_autograder`` runs, and :mod:`.gradescope_results` shapes ``results.json``;
- :mod:`.classroom` writes a GitHub Classroom starter repository with its workflow;
  :mod:`.classroom_report` is the workflow's step that reports the points and checklist.

The runtime modules call grading only through the ``pytest-tutorial grade`` command and
the files it writes (docs/ci.md), so they stay valid whatever grading does inside.
"""

from __future__ import annotations
