"""Correct alternative solutions of the caching tutorial, each differing in design.

Each folder holds a ``cache_service.py`` and its own ``tests/``, like a learner's solution;
``tests/test_caching_alternatives.py`` runs the tutorial against each. Their ``tests/``
folders belong to the tutorial run, not to the project's suite: pytest never collects them
from here (an explicit path, as the harness gives, is not affected).
"""

collect_ignore_glob = ["*/tests"]
