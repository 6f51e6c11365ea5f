"""``pytest-tutorial verify``: proof that a tutorial's checks are worth trusting.

:mod:`.command` is the subcommand; :mod:`.steps` the document, coverage, reference and
starter steps; :mod:`.mutation` makes mutants of the reference and :mod:`.analysis` runs
the checks against them (forked from a warm server, :mod:`pytest_tutorial.warm`);
:mod:`.probe` is the plugin that asks a child pytest what it collects; :mod:`.results` and
:mod:`.output` hold and print what was found.
"""
