"""Realistic bugs in the caching reference, each rejected on the checklist item it breaks.

Each variant is the reference with one small edit, so the variants cannot drift from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import RunTutorial, apply_edits, item_selection

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Variant:
    """A named bug: text replacements in cache_service.py and the item that must fail."""

    name: str
    edits: tuple[tuple[str, str], ...]
    failing_item: str
    check: str
    """A check of that item that fails: the run of the item's checks below must show it
    failed, and the worker-mode run (``tests/test_worker_mode_variants.py``) is limited to it."""


VARIANTS = [
    Variant(
        "no_local_fill_after_a_redis_hit",
        (
            (
                '        self._local_put(key, payload)\n        self._count("redis_hits")',
                '        self._count("redis_hits")',
            ),
        ),
        "core",
        "test_a_redis_hit_fills_the_local_cache",
    ),
    Variant(
        "failed_writes_not_counted",
        (
            (
                '            self._redis_failed("SET", name, exc)',
                '            logger.warning("redis SET %s failed: %r", name, exc)',
            ),
        ),
        "errors",
        "test_every_failed_redis_command_is_counted",
    ),
    Variant(
        "forgets_the_ttl",
        (
            (
                "self._redis.set(name, payload, ex=self._ttl_seconds)",
                "self._redis.set(name, payload)",
            ),
        ),
        "integration",
        "test_values_stored_under_namespaced_keys_with_ttl",
    ),
    Variant(
        "wrong_key_prefix",
        (('return f"{self._namespace}:{key}"', 'return f"{self._namespace}/{key}"'),),
        "integration",
        "test_values_stored_under_namespaced_keys_with_ttl",
    ),
    Variant(
        "caches_exceptions",
        (
            (
                "            value = compute()\n",
                "            try:\n                value = compute()\n"
                "            except Exception as exc:\n"
                "                value = {'error': str(exc)}\n",
            ),
        ),
        "core",
        "test_compute_errors_are_not_cached",
    ),
    Variant(
        "no_fallback_when_redis_errors",
        (
            (
                'logger.warning("redis %s %s failed, serving without Redis: %r", '
                "command, name, exc)",
                "raise exc",
            ),
        ),
        "errors",
        "test_redis_down_still_serves",
    ),
    Variant(
        "single_flight_not_thread_safe",
        (
            (
                "lock = self._flight_locks.setdefault(key, threading.Lock())",
                "lock = threading.Lock()",
            ),
        ),
        "core",
        "test_concurrent_callers_of_one_key_compute_once",
    ),
    Variant(
        "one_lock_for_every_computation",
        (
            (
                "self._lock = threading.Lock()\n",
                "self._lock = threading.Lock()\n        self._compute_lock = threading.Lock()\n",
            ),
            (
                "lock = self._flight_locks.setdefault(key, threading.Lock())",
                "self._flight_locks.setdefault(key, threading.Lock())\n"
                "            lock = self._compute_lock",
            ),
        ),
        "core",
        "test_callers_of_other_keys_do_not_wait",
    ),
    Variant(
        "never_evicts_the_lru",
        (("while len(self._local) > self._local_max_entries:", "while False:"),),
        "core",
        "test_local_cache_evicts_least_recently_used",
    ),
    Variant(
        "lru_is_fifo",
        (
            (
                "            self._local.move_to_end(key)\n"
                '            self._stats["local_hits"] += 1',
                '            self._stats["local_hits"] += 1',
            ),
        ),
        "core",
        "test_local_cache_evicts_least_recently_used",
    ),
    Variant(
        "accepts_keys_with_spaces",
        (
            (
                "if not _is_token(key) or len(key) > MAX_KEY_LENGTH:",
                "if not isinstance(key, str) or not key:",
            ),
        ),
        "errors",
        "test_bad_keys_raise_value_error_before_any_io",
    ),
    Variant(
        "counts_redis_hits_as_local",
        (('self._count("redis_hits")', 'self._count("local_hits")'),),
        "core",
        "test_stats_count_hits_and_misses",
    ),
    Variant(
        "slow_cached_reads",
        (
            (
                "        found = self._local_get(key)\n        if not isinstance(found, _Miss):\n"
                "            return found\n",
                "        time.sleep(0.01)\n        found = self._local_get(key)\n"
                "        if not isinstance(found, _Miss):\n            return found\n",
            ),
        ),
        "performance",
        "test_p95_of_cached_reads_under_concurrent_load",
    ),
    Variant(
        "a_write_does_not_refresh_the_lru",
        (
            (
                "self._local_ttl_seconds, payload)\n            self._local.move_to_end(key)\n",
                "self._local_ttl_seconds, payload)\n",
            ),
        ),
        "core",
        "test_a_write_refreshes_a_keys_place_in_the_lru",
    ),
    Variant(
        "expired_entries_take_room",
        (
            (
                "            if entry is None or self._clock() >= entry[0]:  # absent or expired\n"
                "                self._local.pop(key, None)\n",
                "            if entry is None or self._clock() >= entry[0]:  # absent or expired\n",
            ),
        ),
        "core",
        "test_expired_local_entries_make_room",
    ),
    Variant(
        "per_key_locks_pile_up",
        (("self._flight_users[key] += 1", "self._flight_users[key] += 2"),),
        "core",
        "test_per_key_locks_do_not_pile_up",
    ),
    Variant(
        # the smallest leak a key can leave: a counter's entry (about 50 bytes a key)
        "counter_entries_pile_up",
        (
            (
                "del self._flight_users[key], self._flight_locks[key]",
                "del self._flight_locks[key]",
            ),
        ),
        "core",
        "test_per_key_locks_do_not_pile_up",
    ),
    Variant(
        "stats_is_a_live_view",
        (("return dict(self._stats)", "return self._stats"),),
        "core",
        "test_stats_count_hits_and_misses",
    ),
    Variant(
        "hands_out_the_cached_object",
        (
            (
                "        value: JSONValue = json.loads(entry[1])  # a fresh copy: callers may "
                "mutate it\n        return value\n",
                "        shared = (id(self), key, entry[1])\n"
                "        return _SHARED.setdefault(shared, json.loads(entry[1]))\n",
            ),
            ("MAX_KEY_LENGTH = 200\n", "MAX_KEY_LENGTH = 200\n_SHARED: dict = {}\n"),
        ),
        "core",
        "test_callers_cannot_change_cached_values",
    ),
    Variant(
        "default_ttl_off_by_one",
        (("ttl_seconds: int = 300,", "ttl_seconds: int = 301,"),),
        "core",
        "test_defaults_match_the_documented_settings",
    ),
    Variant(
        "logs_durations_in_seconds",
        (
            (
                'logger.info("%s took %.3f ms", name, (time.perf_counter() - start) * 1000)',
                'logger.info("%s took %.3f ms", name, time.perf_counter() - start)',
            ),
        ),
        "core",
        "test_monitor_logs_durations",
    ),
    Variant(
        "accepts_tuples",
        (
            (
                '        raise ValueError("value does not survive a JSON round trip',
                '        pass  # ValueError("value does not survive a JSON round trip',
            ),
        ),
        "errors",
        "test_values_json_cannot_hold_raise_value_error",
    ),
    Variant(
        "rejects_the_longest_valid_key",
        (("MAX_KEY_LENGTH = 200", "MAX_KEY_LENGTH = 199"),),
        "errors",
        "test_unusual_valid_keys_are_accepted",
    ),
    Variant(
        "rejects_a_ttl_of_one_second",
        (("ttl_seconds < 1:", "ttl_seconds < 2:"),),
        "errors",
        "test_smallest_valid_settings_are_accepted",
    ),
    Variant(
        "survives_redis_errors_silently",
        (
            (
                '        logger.warning("redis %s %s failed, serving without Redis: %r", '
                "command, name, exc)\n",
                "",
            ),
        ),
        "errors",
        "test_redis_down_still_serves",
    ),
    Variant(
        "a_value_that_is_not_json_breaks_reads",
        (
            (
                "        except ValueError:\n"
                '            logger.warning("ignoring a value under %s that is not JSON", name)',
                "        except KeyError:\n"
                '            logger.warning("ignoring a value under %s that is not JSON", name)',
            ),
        ),
        "errors",
        "test_a_value_that_is_not_json_is_a_miss",
    ),
    Variant(
        "expects_bytes_from_redis",
        (
            (
                "payload = raw.decode() if isinstance(raw, bytes) else str(raw)",
                "payload = raw.decode()",
            ),
        ),
        "integration",
        "test_a_client_that_decodes_responses_works",
    ),
    Variant(
        "undocumented_stats",
        (
            (
                '"""Return a snapshot of local_hits, redis_hits, misses and (survived) '
                'redis_errors."""\n',
                "# (docstring removed)\n",
            ),
        ),
        "documentation",
        "test_public_api_has_docstrings_and_type_hints",
    ),
]


def make_variant(copy_solution: Callable[..., Path], variant: Variant) -> Path:
    """Copy the reference and apply the variant's edits, each of which must match once."""
    folder = copy_solution("reference_solutions", "caching", to=f"variants/{variant.name}")
    apply_edits(folder / "cache_service.py", variant.edits, variant.name)
    return folder


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_variant_is_rejected_on_the_expected_item(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], variant: Variant
) -> None:
    folder = make_variant(copy_solution, variant)
    selection = item_selection(variant.failing_item, variant.check)
    run = run_tutorial("caching", "-k", selection, solution=folder)
    assert run.result.ret == 1
    assert run.report["verdict"] == "not_validated"
    assert run.status(variant.failing_item) == "failed", run.automated_statuses()
    assert run.status("tests") == "skipped"
    assert variant.check in run.checks_not_passed(variant.failing_item)


def test_learner_tests_that_miss_known_bugs_fail_the_tests_item(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], pytester: pytest.Pytester
) -> None:
    folder = copy_solution("reference_solutions", "caching", to="weak_tests")
    (folder / "tests" / "test_cache_service.py").write_text(
        "from cache_service import CacheService\n"
        "import fakeredis\n\n"
        "def test_set_then_get():\n"
        "    service = CacheService(fakeredis.FakeRedis())\n"
        "    service.set('k', {'v': 1})\n"
        "    assert service.get('k') == {'v': 1}\n",
        encoding="utf-8",
    )
    run = run_tutorial("caching", "-k", "own_tests", solution=folder)
    checks = {c["id"].rsplit("::", 1)[-1]: c for c in run.items["tests"]["checks"]}
    assert checks["test_own_tests_pass_in_shuffled_order"]["status"] == "passed"
    assert checks["test_own_tests_catch_known_bugs"]["status"] == "failed"
    assert "drops_ttl" in checks["test_own_tests_catch_known_bugs"]["message"]


def test_order_dependent_learner_tests_fail_the_tests_item(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    folder = copy_solution("reference_solutions", "caching", to="order_dependent")
    (folder / "tests" / "test_order.py").write_text(
        "import fakeredis\n"
        "from cache_service import CacheService\n\n"
        "SHARED = CacheService(fakeredis.FakeRedis())\n\n"
        + "".join(
            f"def test_step_{n}():\n"
            f"    if {n}:\n"
            f"        assert SHARED.get('k{n - 1}') == {n - 1}\n"
            f"    SHARED.set('k{n}', {n})\n\n"
            for n in range(6)
        ),
        encoding="utf-8",
    )
    run = run_tutorial("caching", "-k", "own_tests_pass", solution=folder)
    assert run.status("tests") == "failed"
    message = run.items["tests"]["checks"][0]["message"]
    assert "shuffled order" in message
    assert "failed" in message


def test_a_result_json_cannot_hold_is_named_by_its_call(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    variant = Variant(
        "lets_type_errors_through",
        (("    except (TypeError, ValueError) as exc:", "    except ValueError as exc:"),),
        "errors",
        "test_values_json_cannot_hold_raise_value_error",
    )
    folder = make_variant(copy_solution, variant)
    run = run_tutorial("caching", "-k", "json_cannot_hold", solution=folder)
    assert run.status("errors") == "failed"
    (message,) = [
        check["message"]
        for check in run.items["errors"]["checks"]
        if check["id"].endswith("test_values_json_cannot_hold_raise_value_error")
    ]
    assert "set('k', object()) raised TypeError" in message, message
    assert "get_or_compute('c0', compute returning object()) raised TypeError" in message, message
    assert "expected ValueError" in message, message
