"""Correct alternative solutions of the bundled tutorials, one folder per design.

The tutorials' harness runs them (``tests/test_*_alternatives.py``); they are never collected
as the project's own tests.
"""

collect_ignore_glob = ["*"]
