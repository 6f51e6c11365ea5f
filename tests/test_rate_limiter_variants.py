"""Realistic bugs in the rate_limiter reference, each rejected on the checklist item it breaks.

Each variant is the reference with one small edit, so the variants cannot drift from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import RunTutorial, apply_edits, item_selection

pytestmark = pytest.mark.slow

NAME = "rate_limiter"


@dataclass(frozen=True)
class Variant:
    """A named bug: text replacements in rate_limiter.py and the item that must fail."""

    name: str
    edits: tuple[tuple[str, str], ...]
    failing_item: str
    check: str
    """A check of that item that fails: the run of the item's checks must show it failed, and
    the runs limited to one check (a slow variant's here, every variant's in worker mode) run
    it."""
    item_run: bool = True
    """False for a variant whose calls wait: its run here is limited to the check as well."""


SYNC_ATTEMPT = """            reply = self._script(keys=keys, args=args)
        except RedisError as error:
            return self._failed(key, error)
        return self._decided(key, reply)

"""
READ_THEN_WRITE = """            name = keys[0]
            now_ms, window_ms, limit, member = (args[0], args[1], args[2], str(args[3]))
            assert isinstance(now_ms, int) and isinstance(window_ms, int)
            assert isinstance(limit, int)
            self._redis.zremrangebyscore(name, "-inf", now_ms - window_ms)
            count = self._redis.zcard(name)
            if count < limit:
                self._redis.zadd(name, {member: now_ms})
                self._redis.pexpire(name, window_ms)
                reply = [1, limit - count - 1, 0]
            else:
                oldest = self._redis.zrange(name, 0, 0, withscores=True)[0][1]
                reply = [0, 0, int(oldest) + window_ms - now_ms]
        except RedisError as error:
            return self._failed(key, error)
        return self._decided(key, reply)

"""
SYNC_SCRIPT = "        self._script = redis_client.register_script(SLIDING_WINDOW_LOG)\n        self._sleep = sleep\n\n    def hit(self, key: str, *, wait: float = 0.0) -> Decision:\n"  # noqa: E501

VARIANTS = [
    Variant(
        "fixed_window",
        (("'-inf', now - window)", "'-inf', now - now % window - 1)"),),
        "core",
        "test_no_burst_of_twice_the_limit_across_a_window_edge",
    ),
    Variant(
        "read_then_write_without_a_script",
        (
            (SYNC_ATTEMPT, READ_THEN_WRITE),
            (
                SYNC_SCRIPT,
                SYNC_SCRIPT.replace(
                    "        self._sleep", "        self._redis = redis_client\n        self._sleep"
                ),
            ),
        ),
        "core",
        "test_concurrent_callers_get_exactly_the_limit",
    ),
    Variant(
        "timestamp_as_member",
        (('member = f"{now_ms}-{os.urandom(8).hex()}"', 'member = f"{now_ms}"'),),
        "core",
        "test_admits_the_limit_then_refuses",
    ),
    Variant(
        "counts_refused_requests",
        (
            (
                "local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')\n",
                "redis.call('ZADD', key, now, ARGV[4])\n"
                "local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')\n",
            ),
        ),
        "core",
        "test_retry_after_is_exact_to_the_millisecond",
    ),
    Variant(
        "off_by_one",
        (("if count < limit then", "if count <= limit then"),),
        "core",
        "test_admits_the_limit_then_refuses",
    ),
    Variant(
        "retry_after_in_milliseconds",
        (("retry_after=retry_ms / 1000,", "retry_after=float(retry_ms),"),),
        "core",
        "test_retry_after_is_exact_to_the_millisecond",
    ),
    Variant(
        "window_rounded_to_seconds",
        (
            (
                "self._window_ms = round(window_seconds * 1000)",
                "self._window_ms = round(window_seconds) * 1000",
            ),
        ),
        "core",
        "test_fractional_windows_are_kept_to_the_millisecond",
    ),
    Variant(
        "decorator_runs_the_refused_call",
        (
            (
                "            _raise_if_refused(name, sync_limiter.hit(name))\n"
                "            return func(*args, **kwargs)\n",
                "            result = func(*args, **kwargs)\n"
                "            _raise_if_refused(name, sync_limiter.hit(name))\n"
                "            return result\n",
            ),
        ),
        "core",
        "test_decorator_raises_with_the_retry_after",
    ),
    Variant(
        "sleeps_by_default",
        (
            (
                'if decision["allowed"] or not 0 < decision["retry_after"] <= budget:\n'
                "                return decision\n"
                "            self._sleep",
                'if decision["allowed"]:\n                return decision\n            self._sleep',
            ),
        ),
        "core",
        "test_hit_never_blocks_by_default",
        item_run=False,
    ),
    Variant(
        "no_ttl",
        (("    redis.call('PEXPIRE', key, window)\n", ""),),
        "integration",
        "test_every_key_has_a_ttl_and_idle_keys_vanish",
    ),
    Variant(
        "ttl_in_seconds_not_milliseconds",
        (("redis.call('PEXPIRE', key, window)", "redis.call('EXPIRE', key, window)"),),
        "integration",
        "test_every_key_has_a_ttl_and_idle_keys_vanish",
    ),
    Variant(
        "no_key_validation",
        (("        _check_key(key)\n        now_ms", "        now_ms"),),
        "errors",
        "test_bad_keys_raise_value_error_before_any_redis_command",
    ),
    Variant(
        "bool_accepted_as_limit",
        (
            (
                "if isinstance(value, bool) or not isinstance(value, int)",
                "if not isinstance(value, int)",
            ),
        ),
        "errors",
        "test_bad_settings_raise_value_error",
    ),
    Variant(
        "redis_errors_escape",
        ((SYNC_ATTEMPT, SYNC_ATTEMPT.replace("return self._failed(key, error)", "raise")),),
        "errors",
        "test_redis_down_fails_open_by_default",
    ),
    Variant(
        "always_fails_open",
        (
            (
                "        if self._fail_open:\n            return Decision(",
                "        if True:\n            return Decision(",
            ),
        ),
        "errors",
        "test_redis_down_fails_closed_when_configured",
    ),
    Variant(
        "slow_hits",
        (
            (
                "    def _attempt(self, key: str) -> Decision:\n        keys, args",
                "    def _attempt(self, key: str) -> Decision:\n        time.sleep(0.25)\n"
                "        keys, args",
            ),
        ),
        "performance",
        "test_p95_of_hits_under_concurrent_load",
        item_run=False,
    ),
]


def test_there_are_at_least_twelve_variants_over_four_items() -> None:
    assert len(VARIANTS) >= 12
    assert {variant.failing_item for variant in VARIANTS} == {
        "core",
        "errors",
        "integration",
        "performance",
    }


def make_variant(copy_solution: Callable[..., Path], variant: Variant) -> Path:
    """Copy the reference and apply the variant's edits, each of which must match once."""
    folder = copy_solution("reference_solutions", NAME, to=f"variants/{variant.name}")
    apply_edits(folder / "rate_limiter.py", variant.edits, variant.name)
    return folder


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_variant_is_rejected_on_the_expected_item(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], variant: Variant
) -> None:
    folder = make_variant(copy_solution, variant)
    selection = (
        item_selection(variant.failing_item, variant.check) if variant.item_run else variant.check
    )
    run = run_tutorial(NAME, "-k", selection, solution=folder)
    assert run.result.ret == 1
    assert run.report["verdict"] == "not_validated"
    assert run.status(variant.failing_item) == "failed", run.automated_statuses()
    assert variant.check in run.checks_not_passed(variant.failing_item)
