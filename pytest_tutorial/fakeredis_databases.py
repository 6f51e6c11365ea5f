"""fakeredis servers that make each of their databases once, whoever connects first.

fakeredis keeps a server's databases in a ``defaultdict`` and makes one when a connection
first asks for it, outside the server's lock. Threads that open their first connections at
once (40 callers of a rate limiter, 10 misses of a cache) could each get a database of
their own: each saw only its own writes. On a busy machine a correct limiter failed
rate_limiter's concurrency check about one run in 30, and the reference's own 40-thread
test failed now and then.

:func:`make_database_creation_atomic` gives every fakeredis server made afterwards a table
that makes a database under a lock. The harness applies it where it imports fakeredis:
the checks' Redis (:mod:`.redis_backend`) and the warm server of the learner's test runs
(:mod:`.warm.server`). A fakeredis whose table is not a ``defaultdict`` is left as it is.
"""

from __future__ import annotations

import functools
import threading
from collections import defaultdict
from typing import Any

_APPLIED = "_pytest_tutorial_atomic_databases"


class _Databases(defaultdict[int, Any]):
    """A server's databases by number, each made once under a lock."""

    def __init__(self, factory: Any) -> None:
        super().__init__(factory)
        self._making = threading.Lock()

    def __missing__(self, number: int) -> Any:
        with self._making:
            if number not in self:
                assert self.default_factory is not None
                self[number] = self.default_factory()
            return dict.__getitem__(self, number)


def make_database_creation_atomic() -> None:
    """From now on, fakeredis servers make each database once, under a lock (idempotent)."""
    import fakeredis

    server_class: Any = fakeredis.FakeServer
    if getattr(server_class, _APPLIED, False):
        return
    original = server_class.__init__

    @functools.wraps(original)
    def initialised(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        databases = getattr(self, "dbs", None)
        if type(databases) is defaultdict:
            self.dbs = _Databases(databases.default_factory)
            self.dbs.update(databases)

    server_class.__init__ = initialised
    setattr(server_class, _APPLIED, True)
