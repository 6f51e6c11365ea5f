"""Checks of "Error handling is robust": input validated first, throttling retried, no more."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pytest_tutorial import assert_same_json
from pytest_tutorial.fixtures.aws import AwsMock
from pytest_tutorial.solution import Solution
from pytest_tutorial.tutorials.object_store.support import (
    MAX_ATTEMPTS,
    MAX_BYTES,
    OWNER,
    FakeSleep,
    backoff_problems,
    metadata,
)

BODY = b"hello"


def _bad_calls(store: Any) -> dict[str, Callable[[], object]]:
    """Calls with one invalid argument each, by description."""

    def put(**changes: Any) -> Callable[[], object]:
        arguments: dict[str, Any] = {"owner": OWNER, "name": "a.txt", "body": BODY}
        options: dict[str, Any] = {"content_type": "text/plain"}
        for key, value in changes.items():
            (arguments if key in arguments else options)[key] = value
        return partial(store.put, *arguments.values(), **options)

    calls: dict[str, Callable[[], object]] = {}
    for owner in ("", "Ada", "a" * 64, "a b", "-ada", None, 7):
        calls[f"put(owner={owner!r:.20})"] = put(owner=owner)
        calls[f"get(owner={owner!r:.20})"] = partial(store.get, owner, "a.txt")
        calls[f"list_documents(owner={owner!r:.20})"] = partial(store.list_documents, owner)
    for name in ("", "/etc/passwd", "two words", "x" * 201, "tab\there", "naïve.txt", None, 3):
        calls[f"put(name={name!r:.20})"] = put(name=name)
        calls[f"presign(name={name!r:.20})"] = partial(store.presign, OWNER, name)
    for body in ("text, not bytes", b"", b"x" * (MAX_BYTES + 1), None, [1, 2]):
        calls[f"put(body={body!r:.20})"] = put(body=body)
    for content_type in ("application/x-msdownload", "text/html", "", None, ["text/plain"]):
        calls[f"put(content_type={content_type!r:.30})"] = put(content_type=content_type)
    too_many = {f"k{n}": "v" for n in range(11)}
    for tags in (too_many, {"bad key!": "v"}, {"k": 1}, {"k": "v" * 257}, ["k", "v"], {7: "v"}):
        calls[f"put(tags={tags!r:.30})"] = put(tags=tags)
    for limit in (0, 1001, -1, "10", True, 2.5):
        calls[f"list_documents(limit={limit!r})"] = partial(
            store.list_documents, OWNER, limit=limit
        )
    calls["list_documents(cursor='%%%')"] = partial(store.list_documents, OWNER, cursor="%%%")
    for expires_in in (0, -5, 604801, "60", True, 1.5):
        calls[f"presign(expires_in={expires_in!r})"] = partial(
            store.presign, OWNER, "a.txt", expires_in=expires_in
        )
    return calls


@pytest.mark.checklist(
    "errors",
    points=2,
    step=1,
    hint="validate owner, name, body (bytes, 1..max_bytes), content type (allow-list), "
    "tags, limit, cursor and expires_in first, raising ValueError before any AWS call",
)
def test_invalid_input_raises_value_error_before_any_aws_call(store: Any, aws: AwsMock) -> None:
    problems = []
    for description, call in _bad_calls(store).items():
        try:
            call()
        except ValueError:
            continue
        except Exception as error:
            problems.append(f"{description} raised {type(error).__name__}, not ValueError")
            continue
        problems.append(f"{description} was accepted")
    assert not problems, f"{len(problems)} invalid call(s) not rejected: " + "; ".join(problems[:6])
    assert not aws.calls, f"invalid input reached AWS: {aws.call_counts()}"


@pytest.mark.checklist("errors", step=1, hint="__init__ validates its settings with ValueError")
def test_bad_settings_raise_value_error(make_store: Callable[..., Any]) -> None:
    bad: list[dict[str, Any]] = [
        {"bucket": ""},
        {"table": ""},
        {"queue_url": ""},
        {"max_bytes": 0},
        {"content_types": []},
        {"max_attempts": 0},
        {"base_delay": 0},
        {"base_delay": 2.0, "max_delay": 1.0},
    ]
    accepted = []
    for options in bad:
        try:
            make_store(**options)
        except ValueError:
            continue
        accepted.append(repr(options))
    assert not accepted, "DocumentStore accepted " + ", ".join(accepted)


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
    aws.faults.throttle("dynamodb", "PutItem", times=2)
    body = b"retry me"
    try:
        result = store.put(OWNER, "retry.txt", body, content_type="text/plain")
    except ClientError as error:
        pytest.fail(f"put() gave up on a throttled PutItem: {error}")
    assert_same_json(
        result, {**metadata("retry.txt", body), "created": True}, what="the throttled put"
    )
    attempts = aws.count("dynamodb", "PutItem")
    assert attempts == 3, f"PutItem was attempted {attempts} times for 2 throttles, expected 3"
    problems = backoff_problems(fake_sleep.delays, retries=2)
    assert not problems, "; ".join(problems)


@pytest.mark.checklist(
    "errors",
    step=6,
    hint="every AWS call goes through the one retry helper: S3, DynamoDB and SQS throttle, "
    "and so do reads, and 5xx errors are worth a retry too",
)
def test_throttling_anywhere_is_survived(store: Any, aws: AwsMock, fake_sleep: FakeSleep) -> None:
    aws.faults.throttle("s3", "HeadObject")
    aws.faults.throttle("s3", "PutObject")
    aws.faults.throttle("sqs", "SendMessage")
    aws.faults.throttle("dynamodb", "GetItem")
    aws.faults.fail("dynamodb", "Query", code="InternalServerError", status=500, times=1)
    try:
        store.put(OWNER, "busy.txt", b"busy day", content_type="text/plain")
        found = store.get(OWNER, "busy.txt")
        page = store.list_documents(OWNER)
    except ClientError as error:
        pytest.fail(f"a throttled or failing call was not retried: {error}")
    assert_same_json(found, metadata("busy.txt", b"busy day"), what="get() after throttling")
    assert [d["name"] for d in page["documents"]] == ["busy.txt"]
    assert len(fake_sleep.delays) == 5, (
        f"5 calls were throttled or failed with 500 and retried, but sleep() was called "
        f"{len(fake_sleep.delays)} times"
    )
    assert len(aws.sqs_messages()) == 1, "a retried SendMessage should still send one event"


@pytest.mark.checklist(
    "errors",
    step=6,
    hint="give up after max_attempts attempts and let the last ClientError propagate",
)
def test_retries_stop_after_max_attempts(store: Any, aws: AwsMock, fake_sleep: FakeSleep) -> None:
    aws.faults.throttle("dynamodb", "GetItem", times=None)
    with pytest.raises(ClientError) as raised:
        store.get(OWNER, "hot.txt")
    code = raised.value.response["Error"]["Code"]
    assert code == "ProvisionedThroughputExceededException", f"raised {code}"
    attempts = aws.count("dynamodb", "GetItem")
    assert attempts == MAX_ATTEMPTS, (
        f"GetItem was attempted {attempts} times with max_attempts={MAX_ATTEMPTS}"
    )
    problems = backoff_problems(fake_sleep.delays, retries=MAX_ATTEMPTS - 1)
    assert not problems, "; ".join(problems)


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
    with pytest.raises(ClientError):
        store.put(OWNER, "secret.txt", b"top secret", content_type="text/plain")
    assert aws.count("s3", "PutObject") == 1, "an AccessDenied upload was retried"
    assert aws.dynamodb_items() == [], "metadata was written although the upload failed"
    assert aws.sqs_messages() == [], "an event was sent although the upload failed"
    aws.faults.clear()
    aws.faults.fail("dynamodb", "GetItem", code="ValidationException", times=1)
    with pytest.raises(ClientError):
        store.get(OWNER, "secret.txt")
    assert aws.count("dynamodb", "GetItem") == 1, "a ValidationException was retried"
    store.put(OWNER, "fixed.txt", b"one", content_type="text/plain")
    before = aws.count("dynamodb", "PutItem")
    with pytest.raises(solution.DocumentConflict):
        store.put(OWNER, "fixed.txt", b"two", content_type="text/plain")
    retried = aws.count("dynamodb", "PutItem") - before
    assert retried == 1, f"a failed condition check was attempted {retried} times"
    assert fake_sleep.delays == [], f"slept {fake_sleep.delays} for errors that are not retried"
