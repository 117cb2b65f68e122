from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyrtc.protocol as p
from pyrtc.protocol import limits as L

from .strategies import messages

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(messages(p.ClientMsg))
def test_every_client_message_round_trips(msg: p.Msg) -> None:
    assert p.server_decoder().feed(p.encode(msg)) == [msg]


@SETTINGS
@given(messages(p.ServerMsg))
def test_every_server_message_round_trips(msg: p.Msg) -> None:
    assert p.client_decoder().feed(p.encode(msg)) == [msg]


def test_strategies_reach_every_message_type() -> None:
    """Guards the generic strategy: a new message type is covered by the union tests."""
    names = {c.__name__ for c in p.ClientMsg.__args__} | {c.__name__ for c in p.ServerMsg.__args__}
    assert {"Hello", "SendText", "FileChunk", "Posted", "Joined", "FileData", "Error"} <= names
    assert len(p.ClientMsg.__args__) == 23 and len(p.ServerMsg.__args__) == 28


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_protocol_error(data: bytes) -> None:
    for decoder in (p.server_decoder(), p.client_decoder()):
        try:
            decoder.feed(data)
        except p.ProtocolError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_framed_garbage_raises_only_protocol_error(body: bytes) -> None:
    frame = len(body).to_bytes(4, "big") + body
    try:
        p.server_decoder().feed(frame)
    except p.ProtocolError:
        pass


def test_frame_split_at_every_point_decodes_once_complete() -> None:
    msgs = [
        p.Hello(version=1, name="Zoë", key=b"k", proof=b"p"),
        p.SendText(room="General", cid="c1", text="héllo ✓✓ 👍"),
        p.FileChunk(blob_id="a" * 64, offset=0, data=bytes(range(256)) * 4),
    ]
    stream = b"".join(p.encode(m) for m in msgs)
    for cut in range(len(stream) + 1):
        d = p.server_decoder()
        first = d.feed(stream[:cut])
        rest = d.feed(stream[cut:])
        assert first + rest == msgs
        assert d.buffered == 0


def test_nothing_decodes_until_the_last_byte() -> None:
    frame = p.encode(p.SendText(room="General", cid="c", text="x" * 100))
    d = p.server_decoder()
    for b in frame[:-1]:
        assert d.feed(bytes([b])) == []
    assert d.feed(frame[-1:]) == [p.SendText(room="General", cid="c", text="x" * 100)]


def test_trailing_partial_frame_stays_buffered() -> None:
    a, b = p.encode(p.Ping(nonce=1)), p.encode(p.Ping(nonce=2))
    d = p.server_decoder()
    assert d.feed(a + b[:3]) == [p.Ping(nonce=1)]
    assert d.buffered == 3


def test_huge_length_prefix_fails_at_once() -> None:
    d = p.server_decoder()
    with pytest.raises(p.FrameTooLarge, match="limit"):
        d.feed((2**31).to_bytes(4, "big"))  # no body needed: the prefix alone is refused


def test_decoder_stays_broken_after_an_error() -> None:
    d = p.server_decoder()
    with pytest.raises(p.BadMessage):
        d.feed(b"\x00\x00\x00\x01\xc1")
    with pytest.raises(p.BadMessage):
        d.feed(p.encode(p.Ping()))


def test_unknown_type_is_a_bad_message() -> None:
    body = msgspec.msgpack.encode({"t": "launch_missiles", "room": "General"})
    with pytest.raises(p.BadMessage, match="launch_missiles"):
        p.server_decoder().feed(len(body).to_bytes(4, "big") + body)


def test_server_message_is_not_accepted_from_a_client() -> None:
    with pytest.raises(p.BadMessage):
        p.server_decoder().feed(p.encode(p.Welcome(version=1, server="s", name="n")))


@pytest.mark.parametrize("field,value", [
    ("room", "../../etc"), ("room", "General\n"), ("room", "x" * (L.MAX_ROOM + 1)), ("room", ""),
    ("text", ""), ("text", "x" * (L.MAX_TEXT + 1)), ("cid", ""),
])
def test_limits_are_enforced_on_decode(field: str, value: str) -> None:
    fields = {"room": "General", "cid": "c", "text": "hi", field: value}
    body = msgspec.msgpack.encode({"t": "send_text", **fields})
    with pytest.raises(p.BadMessage, match=field):
        p.server_decoder().feed(len(body).to_bytes(4, "big") + body)


def test_file_chunk_over_the_chunk_size_is_refused() -> None:
    body = msgspec.msgpack.encode({"t": "file_chunk", "blob_id": "a" * 64, "offset": 0,
                                   "data": b"x" * (L.CHUNK_SIZE + 1)})
    with pytest.raises(p.BadMessage):
        p.server_decoder().feed(len(body).to_bytes(4, "big") + body)


def test_file_chunks_travel_as_binary_not_base64() -> None:
    data = bytes(range(256)) * 64
    frame = p.encode(p.FileChunk(blob_id="b" * 64, offset=0, data=data))
    assert data in frame  # raw bytes inside the frame
    assert len(frame) < len(data) + 200


@pytest.mark.parametrize("msg", [p.FileChunk(blob_id="c" * 64, offset=9, data=b""),
                                 p.FileData(blob_id="d" * 64, offset=9, total=12345)])
@pytest.mark.parametrize("size", [0, 1, 255, 256, 65536, L.CHUNK_SIZE])
def test_a_chunk_written_as_head_then_payload_is_the_same_frame(msg: p.FileChunk | p.FileData,
                                                                 size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + b"\x07" * (size % 256)
    frame = p.encode_head(msg, len(payload)) + payload
    decoder = p.server_decoder() if isinstance(msg, p.FileChunk) else p.client_decoder()
    (got,) = decoder.feed(frame)
    assert got == msgspec.structs.replace(msg, data=payload)
    assert decoder.buffered == 0


def test_encode_head_needs_an_empty_data_field_and_keeps_the_limit() -> None:
    with pytest.raises(ValueError, match="data"):
        p.encode_head(p.FileChunk(blob_id="a" * 64, offset=0, data=b"x"), 1)
    with pytest.raises(p.FrameTooLarge):
        p.encode_head(p.FileData(blob_id="a" * 64, offset=0), L.MAX_FRAME)


def test_encode_refuses_a_frame_over_the_limit() -> None:
    with pytest.raises(p.FrameTooLarge):
        p.encode(p.FileData(blob_id="a" * 64, offset=0, data=b"x" * (L.MAX_FRAME + 1)))


@pytest.mark.parametrize("name,ok", [
    ("Alice", True), ("Zoë Ünïcode", True), ("", False), (" lead", False), ("trail ", False),
    ("tab\there", False), ("new\nline", False), ("x" * 33, False), ("nul\x00", False),
])
def test_check_name(name: str, ok: bool) -> None:
    if ok:
        assert p.check_name(name) == name
    else:
        with pytest.raises(p.BadMessage):
            p.check_name(name)


def test_frames_before_a_bad_one_are_kept() -> None:
    good = p.encode(p.Ping(nonce=1)) + p.encode(p.Ping(nonce=2))
    with pytest.raises(p.BadMessage) as info:
        p.server_decoder().feed(good + b"\x00\x00\x00\x01\xc1")
    assert info.value.decoded == [p.Ping(nonce=1), p.Ping(nonce=2)]


def test_invalid_utf8_in_a_string_is_a_bad_message() -> None:
    """Found by the fuzz corpus: msgspec raised UnicodeDecodeError, not a DecodeError."""
    body = b"\x83\xa1t\xa9send_text\xa4room\xa7Gen\xffral\xa4text\xa1x"
    with pytest.raises(p.BadMessage, match="UTF-8"):
        p.server_decoder().feed(len(body).to_bytes(4, "big") + body)
