"""``python -m pytest_tutorial``: the same as the ``pytest-tutorial`` command."""

from __future__ import annotations

from pytest_tutorial.cli import main

raise SystemExit(main())
