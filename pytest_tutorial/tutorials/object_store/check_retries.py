"""Checks of "Error handling is robust", Step 6: what is retried, how long it waits, when it stops.

Every fault is injected as the service's own error response, and ``sleep`` only records its
delays, so backoff is checked exactly and instantly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pytest_tutorial import AwsMock, Solution, assert_same_json
from pytest_tutorial.tutorials.object_store.support import (
    DEFAULT_BASE_DELAY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_DELAY,
    MAX_ATTEMPTS,
    MAX_DELAY,
    OWNER,
    WRITE_OPERATIONS,
    FakeSleep,
    backoff_cap,
    backoff_problems,
    described,
    expect_raise,
    item,
    metadata,
)


@pytest.mark.checklist(
    "errors",
    points=2,
    step=6,
    hint="retry throttling errors (ProvisionedThroughputExceededException, SlowDown, "
    "ThrottlingException, ...) with sleep(cap/2 + uniform(0, cap/2)), "
    "cap = min(max_delay, base_delay * 2**(attempt-1))",
)
def test_throttled_writes_are_retried_with_backoff(
    store: Any, aws: AwsMock, fake_sleep: FakeSleep
) -> None:
    for operation in WRITE_OPERATIONS:
        aws.faults.throttle("dynamodb", operation, times=2)
    body = b"retry me"
    try:
        result = store.put(OWNER, "retry.txt", body, content_type="text/plain")
    except ClientError as error:
        pytest.fail(f"put(...) gave up on a metadata write throttled twice: {described(error)}")
    assert_same_json(
        result, {**metadata("retry.txt", body), "created": True}, what="the throttled put"
    )
    attempts = {op: aws.count("dynamodb", op) for op in WRITE_OPERATIONS}
    assert sum(attempts.values()) == 3, (
        f"the metadata write was attempted {attempts} times for 2 throttles, expected 3"
    )
    problems = backoff_problems(fake_sleep.delays, retries=2)
    assert not problems, "put(...) with 2 throttled metadata writes: " + "; ".join(problems)


LONG_RUN = 40
"""Attempts in the default-delays run: retries 7 to 39 all wait at the 2 s cap."""
JITTER_RUN = 100
"""Attempts in the jitter run: 95 waits at the cap, so a uniform spread over its upper half
leaves none of the two bands checked empty (chance 0.8**95, about 1e-9)."""

THROTTLED = [
    ("s3", "HeadObject"),
    ("s3", "PutObject"),
    ("sqs", "SendMessage"),
    ("dynamodb", "GetItem"),
]
"""Calls throttled once in the check below (HeadObject only counts when the store makes it)."""


@pytest.mark.checklist(
    "errors",
    step=6,
    hint="every AWS call goes through the one retry helper: S3, DynamoDB and SQS throttle, "
    "and so do reads, and 5xx errors (whatever their code) are worth a retry too",
)
def test_throttling_anywhere_is_survived(store: Any, aws: AwsMock, fake_sleep: FakeSleep) -> None:
    for service, operation in THROTTLED:
        aws.faults.throttle(service, operation)
    aws.faults.fail("dynamodb", "Query", code="InternalFailure", status=500, times=1)
    try:
        store.put(OWNER, "busy.txt", b"busy day", content_type="text/plain")
        found = store.get(OWNER, "busy.txt")
        page = store.list_documents(OWNER)
    except ClientError as error:
        pytest.fail(f"a throttled call or a 500 was not retried: {described(error)}")
    assert_same_json(found, metadata("busy.txt", b"busy day"), what="get() after throttling")
    listed = [document.get("name") for document in page["documents"]]
    assert listed == ["busy.txt"], f"list_documents() after a 500 listed {listed}"
    failed = [f"{service}.{op}" for service, op in THROTTLED if aws.count(service, op)]
    failed.append("dynamodb.Query (500 InternalFailure)")
    assert len(fake_sleep.delays) == len(failed), (
        f"{len(failed)} calls failed once and were retried ({', '.join(failed)}), but sleep() "
        f"was called {len(fake_sleep.delays)} times"
    )
    assert len(aws.sqs_messages()) == 1, "a retried SendMessage should still send one event"


@pytest.mark.checklist(
    "errors",
    step=6,
    hint="give up after max_attempts attempts and let the last ClientError propagate",
)
def test_retries_stop_after_max_attempts(store: Any, aws: AwsMock, fake_sleep: FakeSleep) -> None:
    aws.faults.throttle("dynamodb", "GetItem", times=None)
    raised = expect_raise(
        ClientError, "get() of an always-throttled GetItem", lambda: store.get(OWNER, "hot.txt")
    )
    assert isinstance(raised, ClientError)
    code = raised.response["Error"]["Code"]
    assert code == "ProvisionedThroughputExceededException", (
        f"get() of an always-throttled GetItem raised a ClientError {code}, expected the last "
        "ProvisionedThroughputExceededException unchanged"
    )
    attempts = aws.count("dynamodb", "GetItem")
    assert attempts == MAX_ATTEMPTS, (
        f"GetItem was attempted {attempts} times with max_attempts={MAX_ATTEMPTS}"
    )
    problems = backoff_problems(fake_sleep.delays, retries=MAX_ATTEMPTS - 1)
    assert not problems, "get() of an always-throttled GetItem: " + "; ".join(problems)


@pytest.mark.checklist(
    "errors",
    points=2,
    step=6,
    hint="retry only throttling and 5xx errors: AccessDenied, ValidationException and "
    "ConditionalCheckFailedException will fail the same way again",
)
def test_other_errors_are_not_retried(
    store: Any, aws: AwsMock, fake_sleep: FakeSleep, solution: Solution
) -> None:
    aws.faults.fail("s3", "PutObject", code="AccessDenied", status=403, message="Access Denied")
    expect_raise(
        ClientError,
        "put(...) whose PutObject fails with AccessDenied",
        lambda: store.put(OWNER, "secret.txt", b"top secret", content_type="text/plain"),
    )
    uploads = aws.count("s3", "PutObject")
    assert uploads == 1, f"an upload that failed with AccessDenied was attempted {uploads} times"
    assert aws.dynamodb_items() == [], "metadata was written although the upload failed"
    assert aws.sqs_messages() == [], "an event was sent although the upload failed"
    aws.faults.clear()
    aws.faults.fail("dynamodb", "GetItem", code="ValidationException", times=1)
    before = aws.count("dynamodb", "GetItem")
    expect_raise(
        ClientError,
        "get() whose GetItem fails with ValidationException",
        lambda: store.get(OWNER, "secret.txt"),
    )
    reads = aws.count("dynamodb", "GetItem") - before
    assert reads == 1, f"get() of a GetItem failing with ValidationException tried {reads} times"
    rival = metadata("fixed.txt", b"theirs")
    for operation in WRITE_OPERATIONS:
        aws.faults.before(
            "dynamodb",
            operation,
            lambda: aws.inspector("dynamodb").put_item(TableName=aws.table, Item=item(rival)),
        )
    writes_before = sum(aws.count("dynamodb", op) for op in WRITE_OPERATIONS)
    expect_raise(
        solution.DocumentConflict,
        "put(...) whose conditional metadata write failed (another writer's item was there)",
        lambda: store.put(OWNER, "fixed.txt", b"mine", content_type="text/plain"),
    )
    writes = sum(aws.count("dynamodb", op) for op in WRITE_OPERATIONS) - writes_before
    assert writes == 1, f"a metadata write whose condition failed was attempted {writes} times"
    assert fake_sleep.delays == [], f"slept {fake_sleep.delays} for errors that are not retried"


@pytest.mark.checklist(
    "errors",
    step=6,
    hint="the retry defaults are the documented ones: max_attempts=4, base_delay=0.05, "
    "max_delay=2.0",
)
def test_default_retry_settings_are_the_documented_ones(
    make_default_store: Callable[..., Any], aws: AwsMock, fake_sleep: FakeSleep
) -> None:
    aws.faults.throttle("dynamodb", "GetItem", times=None)
    expect_raise(
        ClientError,
        "get() of an always-throttled GetItem",
        lambda: make_default_store().get(OWNER, "hot.txt"),
    )
    attempts = aws.count("dynamodb", "GetItem")
    assert attempts == DEFAULT_MAX_ATTEMPTS, (
        f"a DocumentStore built without max_attempts attempted an always-throttled GetItem "
        f"{attempts} times, expected the default {DEFAULT_MAX_ATTEMPTS}"
    )
    defaults = {"base_delay": DEFAULT_BASE_DELAY, "max_delay": DEFAULT_MAX_DELAY}
    problems = backoff_problems(fake_sleep.delays, DEFAULT_MAX_ATTEMPTS - 1, **defaults)
    assert not problems, "without base_delay and max_delay, " + "; ".join(problems)
    fake_sleep.delays.clear()
    expect_raise(
        ClientError,
        f"with max_attempts={LONG_RUN}, get() of an always-throttled GetItem",
        lambda: make_default_store(max_attempts=LONG_RUN).get(OWNER, "hot.txt"),
    )
    problems = backoff_problems(fake_sleep.delays, LONG_RUN - 1, **defaults)
    assert not problems, (
        f"with max_attempts={LONG_RUN} and the default delays (waits grow from 0.05 s and stop "
        f"growing at 2 s): " + "; ".join(problems[:4])
    )


@pytest.mark.checklist(
    "errors",
    step=6,
    hint="each wait is cap/2 + random.uniform(0, cap/2) with cap = min(max_delay, "
    "base_delay * 2**(attempt-1)): capped at max_delay, and spread over the upper half of "
    "the window so throttled clients do not come back in step",
)
def test_waits_are_capped_and_jittered(
    make_store: Callable[..., Any], aws: AwsMock, fake_sleep: FakeSleep
) -> None:
    aws.faults.throttle("dynamodb", "GetItem", times=None)
    expect_raise(
        ClientError,
        f"with max_attempts={JITTER_RUN}, get() of an always-throttled GetItem",
        lambda: make_store(max_attempts=JITTER_RUN).get(OWNER, "hot.txt"),
    )
    problems = backoff_problems(fake_sleep.delays, JITTER_RUN - 1)
    assert not problems, f"with max_attempts={JITTER_RUN}: " + "; ".join(problems[:4])
    capped = [d for n, d in enumerate(fake_sleep.delays, 1) if backoff_cap(n) == MAX_DELAY]
    low, high = min(capped), max(capped)
    spread = low <= 0.6 * MAX_DELAY and high >= 0.9 * MAX_DELAY
    assert spread, (
        f"the {len(capped)} waits capped at max_delay={MAX_DELAY:g} s all lay between "
        f"{low:g} and {high:g} s: equal jitter spreads them uniformly over "
        f"{MAX_DELAY / 2:g} to {MAX_DELAY:g} s"
    )


@pytest.mark.checklist(
    "errors",
    step=6,
    hint="log one WARNING per retry on the 'document_store' logger, naming the error code "
    "(and the operation and the delay)",
)
def test_each_retry_logs_a_warning(store: Any, aws: AwsMock) -> None:
    aws.faults.throttle("dynamodb", "GetItem", times=2)
    with RetryLog() as log:
        store.get(OWNER, "watched.txt")
    code = "ProvisionedThroughputExceededException"
    assert len(log.records) == 2, (
        f"get() retried a throttled GetItem twice and logged {len(log.records)} WARNING(s) on "
        f"the document_store logger, expected one per retry: {log.messages()}"
    )
    unnamed = [r.getMessage()[:160] for r in log.records if code not in r.getMessage()]
    assert not unnamed, f"retry warnings that do not name the error code {code}: {unnamed}"


class RetryLog(logging.Handler):
    """Collects WARNING records of the solution's loggers while it is installed (``with``).

    A logger counts as the solution's when ``document_store`` is one of its dotted parts:
    ``logging.getLogger("document_store")`` and ``logging.getLogger(__name__)`` both do.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "document_store" in record.name.split("."):
            self.records.append(record)

    def messages(self) -> list[str]:
        """The records' messages, shortened."""
        return [record.getMessage()[:160] for record in self.records]

    def __enter__(self) -> RetryLog:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        logging.getLogger().removeHandler(self)
