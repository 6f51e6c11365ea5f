"""The channel and the codec: bounded frames, plain values, nothing evaluated."""

from __future__ import annotations

import contextlib
import math
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from pytest_tutorial.isolation.channel import MAX_FRAME, Channel, ChannelClosed
from pytest_tutorial.isolation.codec import MAX_DEPTH, Codec, CodecError


@pytest.fixture
def pair() -> Iterator[tuple[Channel, socket.socket]]:
    ours, theirs = socket.socketpair()
    channel = Channel(ours, max_frame=1024 * 1024)
    yield channel, theirs
    channel.close()
    theirs.close()


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the reader may close before everything is sent
        sock.sendall(data)


def _frame(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def test_a_message_crosses_whole(pair: tuple[Channel, socket.socket]) -> None:
    channel, theirs = pair
    other = Channel(theirs)
    other.send({"id": 1, "op": "call", "args": [1, "two", None]})
    assert channel.receive() == {"id": 1, "op": "call", "args": [1, "two", None]}


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (struct.pack(">I", 10**7), "over the 1048576 cap"),
        (_frame(b"not json"), "not JSON"),
        (_frame(b"[1, 2]"), "holds a list"),
        (_frame(b"[" * 20_000 + b"]" * 20_000), "not JSON"),
        (_frame('{"text": "\u00e9"}'.encode("utf-16")), "not JSON"),
    ],
    ids=["huge length", "not json", "not an object", "too deep", "not utf-8"],
)
def test_anything_out_of_shape_closes_the_channel_for_good(
    pair: tuple[Channel, socket.socket], data: bytes, why: str
) -> None:
    channel, theirs = pair
    sender = threading.Thread(target=_send_quietly, args=(theirs, data))
    sender.start()
    with pytest.raises(ChannelClosed, match=why):
        channel.receive()
    sender.join()
    with contextlib.suppress(OSError):
        theirs.sendall(_frame(b'{"ok": 1}'))
    with pytest.raises(ChannelClosed):
        channel.receive()  # never read again, even a valid frame


def test_a_message_over_the_cap_is_refused_before_it_is_sent(
    pair: tuple[Channel, socket.socket],
) -> None:
    channel, _ = pair
    with pytest.raises(ValueError, match="over the 1048576 cap"):
        channel.send({"x": "y" * 2_000_000})
    assert channel.closed is None


class Text(str):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        2.5,
        "text",
        [1, [2, {"a": None}]],
        (1, "two"),
        {1, 2},
        frozenset({"a"}),
        b"\x00\xff",
        {1: "int key", "$tag": "looks like a tag"},
        float("inf"),
    ],
)
def test_values_cross_as_themselves(value: object) -> None:
    codec = Codec()
    assert codec.decode(codec.encode(value)) == value


def test_nan_and_subclasses_cross_as_the_builtin_value() -> None:
    codec = Codec()
    assert math.isnan(codec.decode(codec.encode(float("nan"))))
    decoded = codec.decode(codec.encode(Text("held")))
    assert (type(decoded), decoded) == (str, "held")


@pytest.mark.parametrize("kind", [str, Text, bytes, bytearray])
def test_a_string_longer_than_a_message_is_refused_before_it_is_encoded(kind: type) -> None:
    codec = Codec()
    fits = "x" * 1000 if kind in (str, Text) else b"x" * 1000
    too_long = "x" * (MAX_FRAME + 1) if kind in (str, Text) else b"x" * (MAX_FRAME + 1)
    assert codec.decode(codec.encode(kind(fits))) == fits
    with pytest.raises(CodecError, match=f"over the {MAX_FRAME} cap"):
        codec.encode({"nested": [kind(too_long)]})


def test_other_objects_and_deep_nesting_do_not_cross() -> None:
    codec = Codec()
    with pytest.raises(CodecError, match="cannot cross"):
        codec.encode(object())
    deep: list[object] = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(CodecError, match="nested"):
        codec.encode(deep)
    data: object = []
    for _ in range(MAX_DEPTH + 5):
        data = [data]
    with pytest.raises(CodecError, match="nested"):
        codec.decode(data)


@pytest.mark.parametrize(
    "data",
    [{"$unknown": 1}, {"$bytes": "!!"}, {"$float": "1e308"}, {"$dict": [[[], 1]]}, {"$set": 3}],
)
def test_bad_tags_are_errors_not_evaluated(data: object) -> None:
    with pytest.raises(CodecError):
        Codec().decode(data)
