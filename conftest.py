"""Repository-level pytest wiring only.

``pytest .`` at the repository root must not wander into the learner's and the
instructor's folders: their tests belong to the tutorials (``exercises/*/tests`` fail by
design against the starter stubs) and are run by the harness, not by the project's suite.

There is no ``testpaths`` setting on purpose: it would make pytest load ``tests/conftest.py``
(and so need the test extra) in a learner's ``pytest --tutorial=NAME`` run from this folder.
Without it ``pytest`` collects ``tests/`` by recursing from here, minus the folders below.
"""

collect_ignore = ["exercises", "reference_solutions", "benchmarks", "pytest_tutorial", "docs"]
# Alternative solutions of the bundled tutorials: their tests/ belong to them, like a learner's.
collect_ignore_glob = ["tests/alternatives/*"]
