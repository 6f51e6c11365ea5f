"""Realistic bugs in the batch_processor reference, each rejected on the checklist item it breaks.

Each variant is the reference with one small edit, so the variants cannot drift from it.
Every variant runs twice: with no ini file (the checks of the item it breaks), where the
check its table names must be among those that failed, and, limited to that check,
with a learner's ini that sets ``asyncio_mode = auto`` and session-scoped default loops,
which must not change the verdict. A variant whose calls wait (rejected as failed or
timeout) runs with a short time limit per check: its first calls fail the item already,
and its properties would each wait out the tutorial's 30 s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_tutorial.options import TIMEOUT
from tests.conftest import RunTutorial, apply_edits, item_selection

pytestmark = pytest.mark.slow

LEARNER_AUTO_MODE_INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
"""
WAITING_TIMEOUT_S = 5
"""Per-check time limit of a variant that may be rejected by timing out."""

GATHER = "                results.extend(await asyncio.gather(*calls))\n"
CALL = (
    "        async with slots:\n"
    "            async with asyncio.timeout(self._item_timeout):\n"
    "                return await self._handler(item)\n"
)


@dataclass(frozen=True)
class Variant:
    """A named bug: text replacements in batch_processor.py and the item that must fail."""

    name: str
    edits: tuple[tuple[str, str], ...]
    failing_item: str
    check: str
    """A check of that item that fails (or times out): the runs limited to one check run it."""
    rejected_as: tuple[str, ...] = ("failed",)
    """The item's statuses that reject it: a bug that makes calls wait can time out."""


VARIANTS = [
    Variant(
        "unbounded_gather",
        (
            (
                CALL,
                "        async with asyncio.timeout(self._item_timeout):\n"
                "            return await self._handler(item)\n",
            ),
        ),
        "core",
        "test_keeps_max_concurrency_calls_in_flight_and_no_more",
    ),
    Variant(
        "retry_without_backoff",
        (
            (
                "await self._sleep(self.backoff_delay(attempt))",
                "await self._sleep(self._base_delay)",
            ),
        ),
        "errors",
        "test_transient_failures_are_retried_with_exponential_backoff",
    ),
    Variant(
        "backoff_without_jitter",
        (("        return self._random() * cap\n", "        return cap\n"),),
        "errors",
        "test_backoff_is_capped_and_jittered",
    ),
    Variant(
        "swallows_cancellation",
        (
            (
                "len(results), len(items)\n            )\n            raise\n",
                "len(results), len(items)\n            )\n",
            ),
        ),
        "integration",
        "test_cancelling_process_cancels_every_call",
    ),
    Variant(
        "loses_order",
        (
            (
                GATHER,
                "                results.extend([await c for c in asyncio.as_completed(calls)])\n",
            ),
        ),
        "core",
        "test_results_come_back_in_input_order",
    ),
    Variant(
        # Keeps results in the order the calls finish, and starts them 2 ms apart: each
        # call would answer before the next starts, in input order, were the check's calls
        # not gathered first (as a worker's may reach the check spread out on a busy machine).
        "loses_order_starting_calls_apart",
        (
            (
                GATHER,
                "                finished = []\n"
                "\n"
                "                async def keep(call):\n"
                "                    finished.append(await call)\n"
                "\n"
                "                tasks = []\n"
                "                for call in calls:\n"
                "                    tasks.append(asyncio.ensure_future(keep(call)))\n"
                "                    await asyncio.sleep(0.002)\n"
                "                await asyncio.gather(*tasks)\n"
                "                results.extend(finished)\n",
            ),
        ),
        "core",
        "test_results_come_back_in_input_order",
    ),
    Variant(
        "one_failure_fails_the_batch",
        (
            (
                "            except Exception as exc:\n"
                "                return self._failure(index, exc, attempt)\n",
                "",
            ),
        ),
        "errors",
        "test_one_failing_item_does_not_fail_the_batch",
    ),
    Variant(
        "timeout_not_applied",
        ((CALL, "        async with slots:\n            return await self._handler(item)\n"),),
        "errors",
        "test_slow_items_time_out",
    ),
    Variant(
        "retries_every_error",
        (
            (
                "            except self._transient as exc:\n",
                "            except Exception as exc:\n",
            ),
        ),
        "errors",
        "test_other_errors_are_not_retried",
    ),
    Variant(
        "leaks_tasks",
        (
            (
                GATHER,
                "                tasks = [asyncio.create_task(call) for call in calls]\n"
                "                await asyncio.wait(tasks)\n"
                "                results.extend(task.result() for task in tasks)\n",
            ),
        ),
        "integration",
        "test_cancelling_process_cancels_every_call",
    ),
    Variant(
        "awaits_items_one_by_one",
        ((GATHER, "                results.extend([await call for call in calls])\n"),),
        "performance",
        "test_p95_of_batches_under_concurrent_load",
    ),
    Variant(
        "ignores_chunk_size",
        (
            (
                "                chunk = items[start : start + self._chunk_size]\n",
                "                chunk = items if start == 0 else []\n",
            ),
        ),
        "core",
        "test_chunks_run_one_after_another",
    ),
    Variant(
        # Chunks as a sliding window: the next item starts as soon as any call of the window
        # answers, so a chunk starts before the one before it has finished.
        "chunk_size_as_a_sliding_window",
        (
            (
                "        slots = asyncio.Semaphore(self._max_concurrency)\n",
                "        slots = asyncio.Semaphore(min(self._max_concurrency, self._chunk_size))\n",
            ),
            (
                "            for start in range(0, len(items), self._chunk_size):\n"
                "                chunk = items[start : start + self._chunk_size]\n"
                "                calls = [self._run_item(start + n, item, slots) "
                "for n, item in enumerate(chunk)]\n"
                "                results.extend(await asyncio.gather(*calls))\n",
                "            calls = [self._run_item(n, item, slots) "
                "for n, item in enumerate(items)]\n"
                "            results.extend(await asyncio.gather(*calls))\n",
            ),
        ),
        "core",
        "test_chunks_run_one_after_another",
    ),
    Variant(
        "metrics_only_in_the_message",
        (('            extra={"batch_metrics": metrics},\n', ""),),
        "core",
        "test_each_batch_logs_its_metrics",
    ),
    Variant(
        "rate_limited_in_short_periods",  # calls start on a clock: too many at once
        (
            ("import asyncio\n", "import asyncio\nfrom aiolimiter import AsyncLimiter\n"),
            (
                "slots = asyncio.Semaphore(self._max_concurrency)",
                "slots = AsyncLimiter(self._max_concurrency, 0.05)",
            ),
        ),
        "core",
        "test_keeps_max_concurrency_calls_in_flight_and_no_more",
        rejected_as=("failed", "timeout"),  # on a busy machine its waits outlast the limit
    ),
    Variant(
        "rate_limited_in_long_periods",  # freed slots wait for the next token
        (
            ("import asyncio\n", "import asyncio\nfrom aiolimiter import AsyncLimiter\n"),
            (
                "slots = asyncio.Semaphore(self._max_concurrency)",
                "slots = AsyncLimiter(self._max_concurrency, 2.0)",
            ),
        ),
        "core",
        "test_keeps_max_concurrency_calls_in_flight_and_no_more",
        rejected_as=("failed", "timeout"),  # the properties' examples wait for tokens
    ),
    Variant(
        "default_chunk_size_off_by_one",
        (("        chunk_size: int = 100,\n", "        chunk_size: int = 101,\n"),),
        "core",
        "test_the_defaults_are_the_documented_ones",
    ),
    Variant(
        "duration_in_seconds",
        (('"duration_ms": elapsed_s * 1000,', '"duration_ms": elapsed_s,'),),
        "core",
        "test_duration_is_the_batch_time_in_milliseconds",
    ),
    Variant(
        "failed_lists_the_successes",
        (("if not result.ok]", "if result.ok]"),),
        "errors",
        "test_one_failing_item_does_not_fail_the_batch",
    ),
    Variant(
        "accepts_a_handler_that_is_not_callable",
        (
            (
                "        if not callable(handler):\n"
                '            raise ValueError(f"handler must be an async callable, got '
                '{handler!r}")\n',
                "",
            ),
        ),
        "errors",
        "test_bad_settings_raise_value_error",
    ),
    Variant(
        "timeout_without_a_message",
        (
            (
                "        if not message and isinstance(exc, TimeoutError):\n"
                '            message = f"no result within {self._item_timeout:g} s"\n',
                "",
            ),
        ),
        "errors",
        "test_slow_items_time_out",
    ),
    Variant(
        "cancelled_silently",
        (
            (
                "            logger.warning(\n"
                '                "batch %d cancelled after %d of %d items", batch_id, '
                "len(results), len(items)\n"
                "            )\n",
                "",
            ),
        ),
        "integration",
        "test_a_cancelled_batch_logs_a_warning",
    ),
    Variant(
        "undocumented_backoff_delay",
        (
            (
                '        """Seconds to wait after failed attempt number ``attempt`` (1-based).\n\n'
                "        Full jitter: ``random() * min(max_delay, base_delay * 2 ** (attempt - 1))"
                '``.\n        """\n',
                "",
            ),
        ),
        "documentation",
        "test_public_api_has_docstrings_and_type_hints",
    ),
]


def make_variant(
    pytester: pytest.Pytester, copy_solution: Callable[..., Path], variant: Variant
) -> Path:
    """Copy the reference and apply the variant's edits, each of which must match once."""
    if not (pytester.path / "reference_solutions" / "batch_processor").is_dir():
        copy_solution("reference_solutions", "batch_processor")  # the relative target's
    folder = copy_solution("reference_solutions", "batch_processor", to=f"variants/{variant.name}")
    apply_edits(folder / "batch_processor.py", variant.edits, variant.name)
    return folder


@pytest.mark.parametrize("learner_ini", [None, LEARNER_AUTO_MODE_INI], ids=["no-ini", "auto-mode"])
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_variant_is_rejected_on_the_expected_item(
    run_tutorial: RunTutorial,
    copy_solution: Callable[..., Path],
    pytester: pytest.Pytester,
    variant: Variant,
    learner_ini: str | None,
) -> None:
    selection = item_selection(variant.failing_item, variant.check)
    if learner_ini is not None:
        pytester.makeini(learner_ini)
        selection = variant.check  # the check that fails the item is enough
    folder = make_variant(pytester, copy_solution, variant)
    options = ["-k", selection]
    if "timeout" in variant.rejected_as:
        options.append(f"{TIMEOUT}={WAITING_TIMEOUT_S}")
    run = run_tutorial("batch_processor", *options, solution=folder)
    assert run.result.ret == 1
    assert run.report["verdict"] == "not_validated"
    assert run.status(variant.failing_item) in variant.rejected_as, run.automated_statuses()
    assert run.status("tests") == "skipped"
    assert variant.check in run.checks_not_passed(variant.failing_item)
    if learner_ini is not None:
        assert run.checks_run() == [variant.check]


def test_a_method_that_hangs_is_stopped_and_the_rest_stands(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], pytester: pytest.Pytester
) -> None:
    """A retry that awaits forever times out the checks that retry; nothing else changes."""
    hangs = Variant(
        "hangs_on_retry",
        (
            (
                "await self._sleep(self.backoff_delay(attempt))",
                "await asyncio.Event().wait()",
            ),
        ),
        "errors",
        "test_transient_failures_are_retried_with_exponential_backoff",
    )
    folder = make_variant(pytester, copy_solution, hangs)
    run = run_tutorial(
        "batch_processor",
        "-k",
        "not own_tests and not p95",  # the load test takes seconds: longer than the limit
        f"{TIMEOUT}=3",  # 1 s let a loaded machine time out checks that do not retry
        "-p",
        "no:cacheprovider",
        solution=folder,
    )
    checks = {
        c["id"].rsplit("::", 1)[-1]: c for item in run.report["checklist"] for c in item["checks"]
    }
    timed_out = sorted(name for name, check in checks.items() if check["status"] == "timeout")
    assert timed_out == [
        "test_backoff_is_capped_and_jittered",
        "test_each_batch_logs_its_metrics",
        "test_gives_up_after_max_attempts",
        "test_the_defaults_are_the_documented_ones",
        "test_transient_failures_are_retried_with_exponential_backoff",
    ]
    for name in timed_out:
        assert "did not finish within its 3 s time limit" in checks[name]["message"], checks[name]
    statuses = run.automated_statuses()
    assert statuses["errors"] == statuses["core"] == "timeout", statuses
    for item in ("integration", "documentation"):
        assert statuses[item] == "passed", statuses
    assert statuses["performance"] == "skipped", statuses
    assert "Task was destroyed but it is pending" not in run.result.stderr.str()
