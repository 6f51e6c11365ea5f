"""Checks of "Error handling is robust", Step 1: inputs and settings validated before any call."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pytest_tutorial import AwsMock, assert_same_json
from pytest_tutorial.tutorials.object_store.support import (
    DEFAULT_MAX_BYTES,
    MAX_BYTES,
    OWNER,
    FakeSleep,
    described,
    metadata,
)

BODY = b"hello"
PNG = "image/png"


def _not_rejected(description: str, call: Callable[[], object]) -> str | None:
    """Why ``call`` (described as ``description``) failed to raise ValueError, or None."""
    try:
        call()
    except ValueError:
        return None
    except Exception as error:
        return f"{description} raised {described(error)}, not ValueError"
    return f"{description} was accepted, expected ValueError"


def _bad_calls(store: Any) -> dict[str, Callable[[], object]]:
    """Calls with one invalid argument each, by description."""

    def put(**changes: Any) -> Callable[[], object]:
        arguments: dict[str, Any] = {"owner": OWNER, "name": "a.txt", "body": BODY}
        options: dict[str, Any] = {"content_type": "text/plain"}
        for key, value in changes.items():
            (arguments if key in arguments else options)[key] = value
        return partial(store.put, *arguments.values(), **options)

    def iterate(owner: object = OWNER, **options: Any) -> Callable[[], object]:
        return lambda: list(store.iter_documents(owner, **options))

    calls: dict[str, Callable[[], object]] = {}
    for owner in ("", "Ada", "a" * 64, "a b", "-ada", None, 7):
        calls[f"put(owner={owner!r:.20})"] = put(owner=owner)
        calls[f"get(owner={owner!r:.20})"] = partial(store.get, owner, "a.txt")
        calls[f"list_documents(owner={owner!r:.20})"] = partial(store.list_documents, owner)
    calls["list(iter_documents(owner='Ada'))"] = iterate("Ada")
    calls["list(iter_documents(page_size=0))"] = iterate(page_size=0)
    for name in ("", "/etc/passwd", "two words", "x" * 201, "tab\there", "naïve.txt", None, 3):
        calls[f"put(name={name!r:.20})"] = put(name=name)
        calls[f"get(name={name!r:.20})"] = partial(store.get, OWNER, name)
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
    for cursor in ("%%%", "", 7):
        calls[f"list_documents(cursor={cursor!r})"] = partial(
            store.list_documents, OWNER, cursor=cursor
        )
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
    outcomes = [_not_rejected(description, call) for description, call in _bad_calls(store).items()]
    problems = [problem for problem in outcomes if problem]
    assert not problems, f"{len(problems)} invalid call(s) not rejected: " + "; ".join(problems[:6])
    assert not aws.calls, f"invalid input reached AWS: {aws.call_counts()}"


@pytest.mark.checklist(
    "errors",
    step=1,
    hint="the largest and smallest valid values must pass validation: a 63-character owner, "
    "a 200-character name, a body of exactly max_bytes, 10 tags of 64-character keys and "
    "256-character values, limit 1 and 1000, expires_in 1 and 604800",
)
def test_boundary_values_are_accepted(store: Any) -> None:
    owner, name = "a" * 63, "N" * 200
    tags = {f"{n}".rjust(64, "k"): "v" * 256 for n in range(10)}
    try:
        store.put(owner, name, b"x" * MAX_BYTES, content_type="text/plain", tags=tags)
    except ValueError as error:
        pytest.fail(
            f"put('a' * 63, 'N' * 200, a body of max_bytes={MAX_BYTES}, 10 tags of 64-character "
            f"keys and 256-character values) raised {described(error)}: all of it is valid"
        )
    assert_same_json(
        store.get(owner, name),
        metadata(name, b"x" * MAX_BYTES, owner=owner, tags=tags),
        what="get() of the document of the longest valid owner, name, body and tags",
    )
    calls: dict[str, Callable[[], object]] = {
        "put(body=b'y') (1 byte)": partial(
            store.put, owner, "one-byte", b"y", content_type="text/plain"
        ),
        "list_documents(limit=1)": partial(store.list_documents, owner, limit=1),
        "list_documents(limit=1000)": partial(store.list_documents, owner, limit=1000),
        "presign(expires_in=1)": partial(store.presign, owner, name, expires_in=1),
        "presign(expires_in=604800)": partial(store.presign, owner, name, expires_in=604800),
    }
    rejected = []
    for description, call in calls.items():
        try:
            call()
        except ValueError as error:
            rejected.append(f"{description} raised {described(error)}")
    assert not rejected, "valid boundary values were rejected: " + "; ".join(rejected)


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
    outcomes = [
        _not_rejected(f"DocumentStore({options})", partial(make_store, **options))
        for options in bad
    ]
    problems = [problem for problem in outcomes if problem]
    assert not problems, "invalid settings not rejected: " + "; ".join(problems)


@pytest.mark.checklist(
    "errors",
    step=1,
    hint="the smallest valid settings work: max_bytes=1 takes a 1-byte body, max_attempts=1 "
    "means one attempt and no retry, and base_delay may equal max_delay",
)
def test_smallest_valid_settings_are_honoured(
    make_store: Callable[..., Any], aws: AwsMock, fake_sleep: FakeSleep
) -> None:
    settings = {"max_bytes": 1, "max_attempts": 1, "base_delay": 0.5, "max_delay": 0.5}
    try:
        store = make_store(**settings)
    except ValueError as error:
        pytest.fail(f"DocumentStore(**{settings}) raised {described(error)}: they are valid")
    store.put(OWNER, "one.txt", b"1", content_type="text/plain")
    problem = _not_rejected(
        "with max_bytes=1, put(body=b'22')",
        partial(store.put, OWNER, "two.txt", b"22", content_type="text/plain"),
    )
    assert problem is None, problem
    aws.faults.throttle("dynamodb", "GetItem")
    before = aws.count("dynamodb", "GetItem")
    try:
        store.get(OWNER, "one.txt")
    except ClientError:
        pass
    else:
        pytest.fail("with max_attempts=1, get() of a throttled GetItem returned instead of raising")
    attempts = aws.count("dynamodb", "GetItem") - before
    assert attempts == 1, f"with max_attempts=1, a throttled GetItem was attempted {attempts} times"
    assert fake_sleep.delays == [], f"with max_attempts=1 the store slept {fake_sleep.delays}"


DEFAULT_CONTENT_TYPES = [
    "application/json",
    "application/pdf",
    "image/jpeg",
    "image/png",
    "text/csv",
    "text/markdown",
    "text/plain",
]


@pytest.mark.checklist(
    "errors",
    step=1,
    hint="the defaults are the documented ones: max_bytes=10485760 (10 MiB) and the seven "
    "content types of Step 1",
)
def test_default_limits_are_the_documented_ones(
    make_default_store: Callable[..., Any], aws: AwsMock
) -> None:
    store = make_default_store()
    refused = []
    for content_type in DEFAULT_CONTENT_TYPES:
        try:
            store.put(OWNER, f"typed/{content_type}", BODY, content_type=content_type)
        except ValueError as error:
            refused.append(f"{content_type} ({described(error)})")
    assert not refused, "a DocumentStore built without content_types refused " + ", ".join(refused)
    calls = len(aws.calls)
    problems = [
        _not_rejected(
            "without content_types, put(content_type='text/html')",
            partial(store.put, OWNER, "page.html", BODY, content_type="text/html"),
        ),
        _not_rejected(
            f"without max_bytes, put(body of {DEFAULT_MAX_BYTES + 1} bytes)",
            partial(
                store.put, OWNER, "huge.bin", bytes(DEFAULT_MAX_BYTES + 1), content_type="image/png"
            ),
        ),
    ]
    assert problems == [None, None], "; ".join(problem for problem in problems if problem)
    assert len(aws.calls) == calls, f"a rejected put reached AWS: {aws.calls[calls:]}"
    try:
        store.put(OWNER, "largest.bin", bytes(DEFAULT_MAX_BYTES), content_type=PNG)
    except ValueError as error:
        pytest.fail(
            f"a DocumentStore built without max_bytes refused a body of exactly "
            f"{DEFAULT_MAX_BYTES} bytes (the 10 MiB default): {described(error)}"
        )
