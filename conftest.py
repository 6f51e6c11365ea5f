"""Repository-level pytest wiring only.

``pytest .`` at the repository root must not wander into the learner's and the
instructor's folders: their tests belong to the tutorials (``exercises/*/tests`` fail by
design against the starter stubs) and are run by the harness, not by the project's suite.
"""

collect_ignore = ["exercises", "reference_solutions", "benchmarks"]
