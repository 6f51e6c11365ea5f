"""Correct alternative solutions of the rate_limiter tutorial, each differing in algorithm.

Each folder holds a ``rate_limiter.py`` and its own ``tests/``, like a learner's solution;
``tests/test_rate_limiter_alternatives.py`` runs the tutorial against each. Their ``tests/``
folders belong to the tutorial run, not to the project's suite: pytest never collects them
from here (an explicit path, as the harness gives, is not affected).
"""

collect_ignore_glob = ["*/tests"]
