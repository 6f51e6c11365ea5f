"""Your tests for ``cache_service`` (Step 5 of the caching tutorial).

Run them from ``exercises/caching`` with ``python -m pytest tests``. ``pytest
--tutorial=caching`` runs them too: three times, in shuffled order, and against two
known-bad implementations (one recomputes on every call, one stores values in Redis
without a TTL). Your suite must pass on a correct implementation and fail on both bad ones.
It must also catch at least 2 of 4 hidden bugs (small changes to a correct implementation);
a bug counts as caught only by a test that passes against a correct implementation.
"""

from __future__ import annotations

import fakeredis
import pytest
from cache_service import CacheService


def test_set_then_get_round_trips_a_json_value() -> None:
    cache = CacheService(fakeredis.FakeRedis())

    cache.set("user:1", {"name": "Ada", "langs": ["en", "fr"], "score": 9.5})

    assert cache.get("user:1") == {"name": "Ada", "langs": ["en", "fr"], "score": 9.5}


def test_empty_key_is_rejected() -> None:
    cache = CacheService(fakeredis.FakeRedis())

    with pytest.raises(ValueError, match="key"):
        cache.get("")


# What else to test (each test builds its own fakeredis.FakeRedis(): no shared state,
# no reliance on test order, no real sleeps):
#
# - get_or_compute calls compute once; the second call is served from the cache
#   (count the calls; check stats()).
# - The value sits in Redis as JSON under "<namespace>:<key>" with a TTL:
#   client.get("cache:user:1") and 0 < client.ttl("cache:user:1") <= ttl_seconds.
# - Bad keys (whitespace, control characters, 201 characters, non-str) and non-JSON
#   values (float("nan"), a set, object()) raise ValueError and store nothing.
# - invalidate() returns True, then False, and the next call computes again.
# - Local LRU: local_max_entries evicts the least recently used entry; local entries
#   expire after local_ttl_seconds (pass clock=<a fake clock you move by hand>).
# - Redis down (server = fakeredis.FakeServer(); server.connected = False;
#   fakeredis.FakeRedis(server=server)): nothing raises, values are computed and kept
#   locally, stats()["redis_errors"] goes up.
# - An exception from compute propagates and nothing is cached.
# - Ten threads asking for one missing key compute it once (single-flight).
# - monitor logs the duration at INFO (use caplog), logs at ERROR and re-raises on failure.
