"""What a grading child sends is hostile: decoding, folding and writing it can never fail.

Each test feeds the parent what a submission can write to the result pipe (with or without
the stream token, which code in the child's process can read) and checks that the parent
takes it as the submission's doing: ignored and noted, never an exception that would end
as ``not_started`` or stop the batch.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from pytest_tutorial.grading import outputs, results, stream, untrusted
from pytest_tutorial.grading.results import OutcomeKind
from pytest_tutorial.report_model import Report
from pytest_tutorial.scoring import CheckSpec, Status

TOKEN = "t0ken"
NODE = "caching/check_core.py::test_a"


def _line(**fields: Any) -> bytes:
    return json.dumps({"token": TOKEN, **fields}).encode() + b"\n"


def _state() -> results.StreamState:
    state = results.StreamState(frozenset({NODE}))
    state.apply({"event": stream.HELLO})
    state.apply({"event": stream.COLLECTED, "selected": [NODE], "deselected": []})
    return state


def test_a_deeply_nested_line_is_rejected_not_raised() -> None:
    decoder = stream.StreamDecoder(TOKEN)
    deep = b"[" * 200_000 + b"]" * 200_000 + b"\n"
    assert len(deep) < stream.MAX_LINE
    events = decoder.feed(deep + _line(event=stream.HELLO))
    assert [event["event"] for event in events] == [stream.HELLO]
    assert decoder.rejected == 1


@pytest.mark.parametrize(
    "line",
    [
        _line(event=["hello"]),
        _line(event={"x": 1}),
        b'{"token": "t0ken", "event": "hello", "n": ' + b"9" * 5000 + b"}\n",
        _line(event=stream.START, nodeid=NODE)[:-2] + b', "token": [1]}\n',
    ],
    ids=["kind-list", "kind-dict", "int-past-python-limit", "token-list"],
)
def test_malformed_events_are_rejected(line: bytes) -> None:
    decoder = stream.StreamDecoder(TOKEN)
    assert decoder.feed(line) == []
    assert decoder.rejected == 1


def test_decoded_events_are_bounded_and_safe() -> None:
    decoder = stream.StreamDecoder(TOKEN)
    nested: Any = "bottom"
    for _ in range(50):
        nested = [nested]
    (event,) = decoder.feed(
        _line(
            event=stream.RESULT,
            message="bad \ud800 \x1b[31m red \x00",
            duration_s=10**1000,
            load=nested,
            ratio=float("nan"),
        )
    )
    assert event["message"] == "bad \ufffd \ufffd[31m red \ufffd"
    assert event["duration_s"] is None
    assert event["ratio"] is None
    # The event is the first level of nesting; what lies deeper is cut off.
    assert json.dumps(event["load"]).count("[") == untrusted.MAX_DEPTH - 1


@pytest.mark.parametrize(
    "fields",
    [
        {"status": ["passed"]},
        {"status": {"passed": True}},
        {"status": "passed", "duration_s": 10**1000},
        {"status": "passed", "duration_s": [1]},
        {"status": "passed", "message": ["a", "list"]},
        {"status": "passed", "load": {"check": [[[[]]]]}},
        {"status": 7},
        {"status": None},
    ],
)
def test_a_result_of_the_wrong_types_never_raises(fields: dict[str, Any]) -> None:
    state = _state()
    state.apply({"event": stream.START, "nodeid": NODE})
    state.apply({"event": stream.RESULT, "nodeid": NODE, **fields})
    result = state.results.get(NODE)
    if result is not None:
        assert result.status is Status.PASSED
        assert result.duration_s == 0.0 or "duration_s" not in fields
        assert isinstance(result.message, str)
    else:
        assert state.notes


def test_other_events_of_the_wrong_types_never_raise() -> None:
    state = results.StreamState(frozenset({NODE}))
    for event in (
        {"event": stream.COLLECTED, "selected": 5, "deselected": "abc"},
        {"event": stream.START, "nodeid": ["x"]},
        {"event": stream.DONE, "exit_code": [0]},
        {"event": stream.DONE, "exit_code": True, "scratch_free": "lots"},
        {"event": stream.FATAL, "traceback": {"a": 1}},
        {"event": "nonsense"},
    ):
        state.apply(event)
    assert state.collected == []
    assert state.exit_code is None
    assert state.fatal == ""


def test_a_check_that_was_not_selected_cannot_be_given_a_verdict() -> None:
    """A deselected check (``-k``) stays skipped, whatever the child claims for it."""
    state = results.StreamState(frozenset({NODE}))
    state.apply({"event": stream.COLLECTED, "selected": [], "deselected": [NODE]})
    state.apply({"event": stream.START, "nodeid": NODE})
    state.apply({"event": stream.RESULT, "nodeid": NODE, "status": "passed"})
    assert state.results == {}


def _spec() -> CheckSpec:
    return CheckSpec(NODE, "test_a", "core", 2, None, "")


def _build(state: results.StreamState, outcome: results.Outcome) -> Report:
    from datetime import UTC, datetime

    from pytest_tutorial.grading import batch

    _, tutorial = batch.load_tutorial("caching", ())
    report, _ = results.build(
        tutorial,
        [_spec()],
        state,
        outcome,
        source=Path("/x/alice"),
        started_at=datetime.now(UTC),
        duration_s=1.0,
        grading={
            "submission": "alice",
            "source": "/x/alice",
            "sandbox": "rlimits",
            "outcome": outcome.kind,
            "duration_s": 1.0,
        },
    )
    return report


@pytest.mark.parametrize("traceback", ["", "   \n  \n", "\n"])
def test_a_forged_fatal_with_a_blank_traceback_still_builds(traceback: str) -> None:
    state = _state()
    state.apply({"event": stream.FATAL, "traceback": traceback})
    report = _build(state, results.Outcome(OutcomeKind.CRASHED, "it died"))
    assert report["score"]["points"] == 0


def test_every_output_is_written_whatever_the_messages_hold(tmp_path: Path) -> None:
    state = _state()
    state.apply({"event": stream.START, "nodeid": NODE})
    hostile = "lone \ud800 surrogate, \x00 nul, \x1b[2J escape, \x0c form feed, \ufffe"
    state.apply({"event": stream.RESULT, "nodeid": NODE, "status": "failed", "message": hostile})
    report = _build(state, results.Outcome(OutcomeKind.COMPLETED))
    report["grading"]["detail"] = hostile  # not through the decoder: scrubbed at writing
    outputs.write_submission(tmp_path, report, b"\xff\xfe out \x00", False)
    for name in (outputs.REPORT_NAME, outputs.GRADESCOPE_NAME, outputs.JUNIT_NAME):
        text = (tmp_path / name).read_bytes().decode("utf-8")  # strict
        assert "\\ud800" not in text
        assert "\x1b" not in text
    ElementTree.parse(tmp_path / outputs.JUNIT_NAME)  # well-formed XML
    written = json.loads((tmp_path / outputs.REPORT_NAME).read_text(encoding="utf-8"))
    assert written["grading"]["detail"].startswith("lone \ufffd surrogate")


def test_scrub_keeps_everything_but_unsafe_characters() -> None:
    value = {"k\ud800": ["ok", 1, 2.5, None, True, {"n": "a\tb\nc"}]}
    assert untrusted.scrub(value) == {"k\ufffd": ["ok", 1, 2.5, None, True, {"n": "a\tb\nc"}]}
