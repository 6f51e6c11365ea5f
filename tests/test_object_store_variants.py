"""Realistic bugs in the object_store reference, each rejected on the checklist item it breaks.

Each variant is the reference with one small edit, so the variants cannot drift from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3  # noqa: F401  (loaded once here, not imported and dropped by every inner run)
import moto  # noqa: F401
import pytest

from tests.conftest import RunTutorial, apply_edits

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Variant:
    """A named bug: text replacements in document_store.py and the item that must fail."""

    name: str
    edits: tuple[tuple[str, str], ...]
    failing_item: str
    check: str
    """The check that must catch it (the run is limited to it, which keeps the suite fast)."""
    message: str
    """A fragment of the check's message: the bug is caught for the right reason."""


VARIANTS = [
    Variant(
        "no_dedupe_uploads_every_copy",
        (
            (
                "            self._call(self._s3.head_object, Bucket=self._bucket, Key=key)\n"
                "            return  # the same bytes are stored already: deduplicated\n",
                "            pass\n",
            ),
            ('                IfNoneMatch="*",\n', ""),
        ),
        "core",
        "test_identical_bodies_are_uploaded_and_stored_once",
        "three puts of one body uploaded it 3 times",
    ),
    Variant(
        "keys_bodies_by_document_name",
        (
            (
                '        self._upload_once(metadata["sha256"], body)\n',
                '        self._upload_once(f"{owner}-{name}", body)\n',
            ),
            ('return f"sha256/{sha256}"', 'return f"documents/{sha256}"'),
            (
                "                ChecksumSHA256=base64.b64encode("
                "bytes.fromhex(sha256)).decode(),\n",
                "",
            ),
        ),
        "integration",
        "test_bodies_are_stored_under_their_sha256",
        "the bucket holds ['documents/",
    ),
    Variant(
        "unconditional_metadata_write",
        (
            (
                '                ConditionExpression="attribute_not_exists(#name)",\n'
                '                ExpressionAttributeNames={"#name": "name"},\n'
                '                ReturnValuesOnConditionCheckFailure="ALL_OLD",\n',
                "",
            ),
        ),
        "core",
        "test_conflicting_put_raises_and_keeps_the_original",
        "DocumentConflict",
    ),
    Variant(
        "pagination_drops_the_last_page",
        (
            (
                "        cursor = None\n"
                "        while True:\n"
                "            page = self.list_documents(owner, limit=page_size, cursor=cursor)\n"
                '            yield from page["documents"]\n'
                '            cursor = page["next_cursor"]\n'
                "            if cursor is None:\n"
                "                return\n",
                "        page = self.list_documents(owner, limit=page_size)\n"
                '        while page["next_cursor"] is not None:\n'
                '            yield from page["documents"]\n'
                "            page = self.list_documents("
                'owner, limit=page_size, cursor=page["next_cursor"])\n',
            ),
        ),
        "core",
        "test_iter_documents_yields_every_page",
        "iter_documents(OWNER, page_size=3) yielded",
    ),
    Variant(
        "presigned_url_ignores_the_expiry",
        (("            ExpiresIn=expires_in,\n", "            ExpiresIn=3600,\n"),),
        "core",
        "test_presigned_urls_serve_the_bytes_and_expire_as_asked",
        "X-Amz-Expires=['3600']",
    ),
    Variant(
        "publishes_no_event",
        (
            (
                "        self._call(\n"
                "            self._sqs.send_message,\n"
                "            QueueUrl=self._queue_url,\n"
                '            MessageBody=json.dumps({"event": "document.created", **metadata}),\n'
                "        )\n",
                "",
            ),
        ),
        "integration",
        "test_one_event_per_new_document",
        "the messages on the queue is []",
    ),
    Variant(
        "publishes_an_event_on_every_put",
        (
            (
                '            return {**metadata, "created": False}\n',
                "            self._sqs.send_message(QueueUrl=self._queue_url, "
                'MessageBody=json.dumps({"event": "document.created", **metadata}))\n'
                '            return {**metadata, "created": False}\n',
            ),
        ),
        "integration",
        "test_one_event_per_new_document",
        "the messages on the queue",
    ),
    Variant(
        "never_retries",
        (
            (
                "                if attempt >= self._max_attempts or not _retryable(error):\n"
                "                    raise\n",
                "                raise\n",
            ),
        ),
        "errors",
        "test_throttled_writes_are_retried_with_backoff",
        "gave up on a metadata write throttled twice",
    ),
    Variant(
        "retries_every_error",
        (
            (
                "    return _code(error) in RETRYABLE_CODES or _status(error) >= 500\n",
                "    return True\n",
            ),
        ),
        "errors",
        "test_other_errors_are_not_retried",
        "an upload that failed with AccessDenied was attempted",
    ),
    Variant(
        "retries_without_backoff",
        (("                self._sleep(delay)\n", "                self._sleep(0.001)\n"),),
        "errors",
        "test_throttled_writes_are_retried_with_backoff",
        "retry 1 slept 0.001 s",
    ),
    Variant(
        "no_size_limit",
        (
            (
                "        if not 1 <= len(body) <= self._max_bytes:\n",
                "        if not body:\n",
            ),
        ),
        "errors",
        "test_invalid_input_raises_value_error_before_any_aws_call",
        "put(body=b'xxxx",
    ),
    Variant(
        "accepts_any_content_type",
        (
            (
                "        if not isinstance(content_type, str) or content_type not in "
                "self._content_types:\n",
                "        if not isinstance(content_type, str) or not content_type:\n",
            ),
        ),
        "errors",
        "test_invalid_input_raises_value_error_before_any_aws_call",
        "put(content_type='application/x-msdownload') was accepted",
    ),
    Variant(
        "metadata_reads_describe_the_table_first",
        (
            (
                '        """Return the metadata of ``owner``\'s document ``name``, or None: '
                'one GetItem."""\n'
                "        _check_key(owner, name)\n",
                '        """Return the metadata of ``owner``\'s document ``name``, or None."""\n'
                "        _check_key(owner, name)\n"
                "        self._call(self._dynamodb.describe_table, TableName=self._table)\n",
            ),
        ),
        "performance",
        "test_p95_of_metadata_reads_under_concurrent_load",
        "also called {'dynamodb.DescribeTable'",
    ),
    Variant(
        "size_stored_as_a_string",
        (
            (
                '        "size": {"N": str(metadata["size"])},\n',
                '        "size": {"S": str(metadata["size"])},\n',
            ),
            (
                '        "size": int(item["size"]["N"]),\n',
                '        "size": int(item["size"]["S"]),\n',
            ),
        ),
        "integration",
        "test_metadata_items_have_the_documented_layout",
        "the DynamoDB items",
    ),
    Variant(
        "racing_identical_upload_is_an_error",
        (("            if _status(error) != 412:", "            if True:"),),
        "core",
        "test_an_identical_upload_racing_this_one_is_no_error",
        "failed when another writer uploaded the same bytes",
    ),
    Variant(
        "pages_of_50_by_default",
        (("DEFAULT_PAGE_SIZE = 100\n", "DEFAULT_PAGE_SIZE = 50\n"),),
        "core",
        "test_a_page_holds_100_documents_by_default",
        "listed 50",
    ),
    Variant(
        "one_mebibyte_by_default",
        (
            (
                "        max_bytes: int = 10 * 1024 * 1024,\n",
                "        max_bytes: int = 1024 * 1024,\n",
            ),
        ),
        "errors",
        "test_default_limits_are_the_documented_ones",
        "refused a body of exactly 10485760 bytes",
    ),
    Variant(
        "rejects_the_longest_url_lifetime",
        (
            (
                "not 1 <= expires_in <= MAX_PRESIGN_SECONDS",
                "not 1 <= expires_in < MAX_PRESIGN_SECONDS",
            ),
        ),
        "errors",
        "test_boundary_values_are_accepted",
        "presign(expires_in=604800) raised ValueError",
    ),
    Variant(
        "retries_5xx_only_by_code",
        (
            (
                "    return _code(error) in RETRYABLE_CODES or _status(error) >= 500\n",
                "    return _code(error) in RETRYABLE_CODES\n",
            ),
        ),
        "errors",
        "test_throttling_anywhere_is_survived",
        "InternalFailure",
    ),
    Variant(
        "waits_without_jitter",
        (
            (
                '                delay = cap / 2 + random.uniform(0, cap / 2)  # "equal jitter"\n',
                "                delay = cap * 0.75\n",
            ),
        ),
        "errors",
        "test_waits_are_capped_and_jittered",
        "equal jitter spreads them",
    ),
    Variant(
        "waits_grow_without_a_cap",
        (
            (
                "cap = min(self._max_delay, self._base_delay * 2 ** (attempt - 1))",
                "cap = self._base_delay * 2 ** (attempt - 1)",
            ),
        ),
        "errors",
        "test_waits_are_capped_and_jittered",
        "expected 0.5 to 1 s",  # which retry first shows it depends on the jitter drawn
    ),
    Variant(
        "retries_silently",
        (
            (
                "                logger.warning(\n",
                "                logger.debug(\n",
            ),
        ),
        "errors",
        "test_each_retry_logs_a_warning",
        "logged 0 WARNING(s)",
    ),
    Variant(
        "pages_read_eventually_consistent",
        (('            "ConsistentRead": True,\n', ""),),
        "integration",
        "test_reads_see_the_write_just_made",
        "list_documents() right after put() is []",
    ),
    Variant(
        "remembers_missing_documents",
        (
            (
                "        self._sleep = sleep\n",
                "        self._sleep = sleep\n"
                "        self._missing: set[tuple[str, str]] = set()\n",
            ),
            (
                "        _check_key(owner, name)\n        answer = self._call(\n",
                "        _check_key(owner, name)\n"
                "        if (owner, name) in self._missing:\n"
                "            return None\n"
                "        answer = self._call(\n",
            ),
            (
                "        return _from_item(item) if item else None\n",
                "        if not item:\n"
                "            self._missing.add((owner, name))\n"
                "        return _from_item(item) if item else None\n",
            ),
        ),
        "integration",
        "test_documents_written_by_another_service_are_read",
        "get() of an item another service wrote after this store last looked is null",
    ),
    Variant(
        "reads_scan_the_owners_partition",
        (
            (
                "            self._dynamodb.get_item,\n"
                "            TableName=self._table,\n"
                '            Key={"owner": {"S": owner}, "name": {"S": name}},\n'
                "            ConsistentRead=True,\n"
                "        )\n"
                '        item = answer.get("Item")\n',
                "            self._dynamodb.query,\n"
                "            TableName=self._table,\n"
                '            KeyConditionExpression="#owner = :owner",\n'
                '            FilterExpression="#name = :name",\n'
                '            ExpressionAttributeNames={"#owner": "owner", "#name": "name"},\n'
                "            ExpressionAttributeValues="
                '{":owner": {"S": owner}, ":name": {"S": name}},\n'
                "            ConsistentRead=True,\n"
                "        )\n"
                '        item = (answer.get("Items") or [None])[0]\n',
            ),
        ),
        "performance",
        "test_p95_of_metadata_reads_under_concurrent_load",
        "x the reference's",
    ),
    Variant(
        "undocumented_presign",
        (
            (
                '        """A URL that GETs the document\'s bytes, with its content type, for '
                "``expires_in`` s.\n",
                '        """TODO: write me.\n',
            ),
        ),
        "documentation",
        "test_public_api_has_docstrings_and_type_hints",
        "DocumentStore.presign's docstring is still the starter's TODO note",
    ),
]


def make_variant(copy_solution: Callable[..., Path], variant: Variant) -> Path:
    """Copy the reference and apply the variant's edits, each of which must match once."""
    folder = copy_solution("reference_solutions", "object_store", to=f"variants/{variant.name}")
    apply_edits(folder / "document_store.py", variant.edits, variant.name)
    return folder


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_variant_is_rejected_on_the_expected_item(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path], variant: Variant
) -> None:
    copy_solution("reference_solutions", "object_store")  # the performance item compares
    folder = make_variant(copy_solution, variant)
    run = run_tutorial("object_store", "-k", variant.check, solution=folder)
    assert run.result.ret == 1
    assert run.report["verdict"] == "not_validated"
    assert run.status(variant.failing_item) == "failed", run.automated_statuses()
    checks = {c["id"].rsplit("::", 1)[-1]: c for c in run.items[variant.failing_item]["checks"]}
    assert checks[variant.check]["status"] == "failed"
    assert variant.message in checks[variant.check]["message"]


def test_tests_that_miss_the_known_bugs_fail_the_tests_item(
    run_tutorial: RunTutorial, copy_solution: Callable[..., Path]
) -> None:
    """The reference's own tests without the three that catch the known-bad implementations.

    (That the complete reference tests catch both is part of ``test_reference_is_validated``.)
    """
    weak = copy_solution("reference_solutions", "object_store", to="weak_tests")
    tests = weak / "tests" / "test_document_store.py"
    text = tests.read_text(encoding="utf-8")
    for name in (
        "test_body_is_stored_under_its_sha256",
        "test_identical_bodies_are_stored_once",
        "test_repeated_put_is_idempotent_and_sends_one_event",
    ):
        assert text.count(f"def {name}(") == 1
        text = text.replace(f"def {name}(", f"def _not_{name}(")
    tests.write_text(text, encoding="utf-8")
    run = run_tutorial("object_store", "-k", "own_tests_catch", solution=weak)
    checks = {c["id"].rsplit("::", 1)[-1]: c for c in run.items["tests"]["checks"]}
    assert checks["test_own_tests_catch_known_bugs"]["status"] == "failed"
    message = checks["test_own_tests_catch_known_bugs"]["message"]
    assert "copies_per_document" in message
    assert "duplicate_events" in message
