"""Commands sent through a pipeline or a MULTI/EXEC transaction are counted and can fail."""

from __future__ import annotations

import fakeredis
import pytest
import redis

from pytest_tutorial.redis_backend import InstrumentedRedis


def client() -> InstrumentedRedis:
    return InstrumentedRedis(server=fakeredis.FakeServer())


@pytest.mark.parametrize("transaction", [True, False], ids=["multi-exec", "pipeline"])
def test_pipelined_commands_are_counted(transaction: bool) -> None:
    counting = client()
    with counting.pipeline(transaction=transaction) as pipe:
        pipe.set("k", "v")
        pipe.expire("k", 60)
        pipe.execute()
    assert dict(counting.commands) == {"SET": 1, "EXPIRE": 1}
    assert counting.get("k") == b"v"


def test_a_failing_command_fails_the_pipeline_before_anything_is_written() -> None:
    counting = client()
    counting.fail("SET")
    with counting.pipeline() as pipe:
        pipe.set("k", "v")
        pipe.expire("k", 60)
        with pytest.raises(redis.ConnectionError):
            pipe.execute()
    counting.heal()
    assert counting.get("k") is None


def test_every_command_fails_when_redis_is_down() -> None:
    counting = client()
    counting.fail("*")
    with counting.pipeline() as pipe:
        pipe.get("k")
        with pytest.raises(redis.ConnectionError):
            pipe.execute()
