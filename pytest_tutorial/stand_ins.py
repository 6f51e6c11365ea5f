"""Functions a check hands the learner's code that hold no state of the check's.

Any other function a check passes to a solution served by a worker stays on the trusted
side: each call the learner's code makes crosses the channel and back. :class:`Returns` and
:class:`Raises` are rebuilt in the worker instead (the codec carries their value, or their
exception's class and message), so calling them crosses nothing: a check that makes
hundreds of calls (under memory tracing, say) spends its time in the learner's code, not
on the channel. They record nothing; a check that counts calls passes its own function.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, NoReturn


@dataclass(frozen=True)
class Returns:
    """A function that returns a fresh copy of ``value`` (a plain value), whatever it is given."""

    value: object

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """A copy, so the learner's code cannot change what the next call returns."""
        return copy.deepcopy(self.value)


@dataclass(frozen=True)
class Raises:
    """A function that raises ``kind(message)``, whatever it is given."""

    kind: type[BaseException]
    message: str

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Raise a new exception each time."""
        raise self.kind(self.message)


RETURNS = "returns"
RAISES = "raises"
"""The codec's tags of the two stand-ins (``{"$returns": value}``,
``{"$raises": {"class": ..., "message": ...}}``)."""
