"""Scaffolding of new tutorials (``pytest-tutorial new NAME``) and the stub their checks use.

A scaffolded check calls :func:`not_written_yet` until its author writes it: the check
fails with a message that says so, and ``pytest-tutorial verify`` lists it as missing.
"""

from __future__ import annotations

import sys
from typing import NoReturn

NOT_WRITTEN = "check not written yet"


def not_written_yet(item_id: str) -> NoReturn:
    """Fail the calling check: it is still the scaffold's stub for checklist item ``item_id``."""
    import pytest

    caller = sys._getframe(1)
    where = f"{caller.f_code.co_filename}:{caller.f_lineno}"
    pytest.fail(
        f"{NOT_WRITTEN}: the check of checklist item '{item_id}' is the scaffold's stub "
        f"({where}); replace not_written_yet(...) with a check of the solution",
        pytrace=False,
    )


__all__ = ["NOT_WRITTEN", "not_written_yet"]
