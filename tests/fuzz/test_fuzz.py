"""Fuzzing, bounded for the suite: the frame decoder, the server's message handling, the
client's state, and the pages cut to fit a frame.

Each target checks what comes out, not only that nothing crashes: the seed corpus in
corpus/ decodes to the messages its manifest (SEEDS) names; a mutated seed decodes to
exactly what a plain reading of the framing rules gives (the messages before the first bad
frame, then ProtocolError, and nothing else ever escapes); valid streams of every message
type come out whole however they are split; the server never hits an internal error and
keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyrtc.protocol as p
from pyrtc.client import ChatState, ClientSession, Identity
from pyrtc.protocol.budget import fit_newest, room_for
from pyrtc.protocol.framing import HEADER
from pyrtc.protocol.limits import MAX_FRAME, MAX_TEXT
from pyrtc.server import ChatServer

from ..conftest import raw_open, read_greeting, server_config, signed_hello
from ..protocol.strategies import messages

FUZZER = Identity.generate()  # one person, however many examples run
CORPUS = Path(__file__).parent / "corpus"
#: side -> (a new decoder, the union it reads)
DECODERS: dict[str, tuple[Callable[[], p.FrameDecoder[Any]], Any]] = {
    "server": (p.server_decoder, p.ClientMsg), "client": (p.client_decoder, p.ServerMsg)}

#: seed -> what the server's decoder (client messages) and the client's decoder (server
#: messages) make of it: the message types, in order, or the ProtocolError raised.
SEEDS: dict[str, tuple[list[str] | type[p.ProtocolError], list[str] | type[p.ProtocolError]]] = {
    "hello": (["Hello"], p.BadMessage),  # protocol 2's, without key and proof: still a Hello
    "hello_v3": (["Hello"], p.BadMessage),  # with a key and a signed proof
    "list_rooms_page": (["ListRooms"], p.BadMessage),
    "join": (["JoinRoom"], p.BadMessage),
    "send_text": (["SendText"], p.BadMessage),
    "react": (["React"], p.BadMessage),
    "search": (["Search"], p.BadMessage),  # an FTS query with operators in it
    "history": (["GetHistory"], p.BadMessage),
    "offer": (["OfferFile"], p.BadMessage),  # a file name that climbs out (../../x)
    "file_chunk": (["FileChunk"], p.BadMessage),
    "stream": (["SendText", "Ping", "MarkRead"], p.BadMessage),
    "greeting": (p.BadMessage, ["Greeting"]),
    "welcome": (p.BadMessage, ["Welcome"]),
    "welcome_v3": (p.BadMessage, ["Welcome"]),
    "welcome_paged": (p.BadMessage, ["Welcome"]),  # the first page of rooms
    "room_list_page": (p.BadMessage, ["RoomList"]),
    "room_added": (p.BadMessage, ["RoomAdded"]),
    "posted_reactions": (p.BadMessage, ["Posted"]),  # reactions with counts
    "reacted_count": (p.BadMessage, ["Reacted"]),
    "search_more": (p.BadMessage, ["SearchHits"]),
    "posted": (p.BadMessage, ["Posted"]),
    "file_data": (p.BadMessage, ["FileData"]),  # written as head + payload (encode_head)
    "bad_utf8": (p.BadMessage, p.BadMessage),
    "wrong_types": (p.BadMessage, p.BadMessage),
    "nested": (p.BadMessage, p.BadMessage),  # arrays 2,000 deep
    "deep_unknown_field": (p.BadMessage, p.BadMessage),  # too deep inside a field no one reads
    "seq_past_64_bits": (p.BadMessage, p.BadMessage),  # a JoinRoom whose `since` does not fit
    "zero_frame": (p.BadMessage, p.BadMessage),
    "huge_prefix": (p.FrameTooLarge, p.FrameTooLarge),
}


def seed(name: str) -> bytes:
    return (CORPUS / f"{name}.bin").read_bytes()


def wire(msgs: list[Any]) -> list[bytes]:
    """Messages as their encodings: comparable also when a float field is NaN."""
    return [p.encode(m) for m in msgs]


def by_the_rules(data: bytes, union: Any) -> tuple[list[Any], type[p.ProtocolError] | None, int]:
    """What the framing rules say `data` holds, read plainly: whole frames in order, each a
    message of `union`, up to the first bad one; then the error, and the bytes left over."""
    out: list[Any] = []
    pos = 0
    while len(data) - pos >= HEADER:
        size = int.from_bytes(data[pos : pos + HEADER], "big")
        if size > MAX_FRAME:
            return out, p.FrameTooLarge, 0
        end = pos + HEADER + size
        if len(data) < end:
            break
        try:
            out.append(msgspec.msgpack.decode(data[pos + HEADER : end], type=union))
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return out, p.BadMessage, 0
        pos = end
    return out, None, len(data) - pos


def test_every_seed_is_in_the_manifest() -> None:
    assert sorted(f.stem for f in CORPUS.glob("*.bin")) == sorted(SEEDS)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_corpus_decodes_as_its_manifest_says(name: str) -> None:
    for (make, _), want in zip(DECODERS.values(), SEEDS[name], strict=True):
        decoder = make()
        if isinstance(want, list):
            got = decoder.feed(seed(name))
            assert [type(m).__name__ for m in got] == want
            assert decoder.buffered == 0
            assert make().feed(b"".join(wire(got))) == got  # they re-encode and read back the same
        else:
            with pytest.raises(want) as caught:
                decoder.feed(seed(name))
            assert caught.type is want and caught.value.decoded == []


def test_the_file_data_seed_is_one_frame_of_head_and_payload() -> None:
    [msg] = p.client_decoder().feed(seed("file_data"))
    assert isinstance(msg, p.FileData) and msg.data == bytes(range(100)) and msg.offset == 256


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SEEDS)), st.lists(st.tuples(st.integers(0, 4096), st.integers(0, 255)), max_size=8),
       st.integers(0, 4096), st.binary(max_size=64))
def test_mutated_frames_decode_by_the_rules_or_raise_protocol_error(
        name: str, flips: list[tuple[int, int]], cut: int, tail: bytes) -> None:
    data = bytearray(seed(name))
    for pos, value in flips:
        if data:
            data[pos % len(data)] = value
    mutated = bytes(data[: max(0, len(data) - cut % (len(data) + 1))]) + tail
    for make, union in DECODERS.values():
        want, error, left = by_the_rules(mutated, union)
        decoder = make()
        if error is None:
            got = decoder.feed(mutated)  # anything but ProtocolError escaping fails here
            assert decoder.buffered == left
        else:
            with pytest.raises(error) as caught:
                decoder.feed(mutated)
            got = caught.value.decoded
        assert wire(got) == wire(want)
        for m in got:  # every message decoded re-encodes to one that reads back the same
            assert wire(make().feed(p.encode(m))) == [p.encode(m)]


def splits(size: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, size), max_size=12).map(sorted)


#: Built once: a message strategy compiles every field's pattern.
STREAMS = {side: st.lists(messages(union), min_size=1, max_size=6) for side, (_, union) in DECODERS.items()}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(sorted(DECODERS)))
def test_valid_streams_come_out_whole_however_they_are_split(data: st.DataObject, side: str) -> None:
    make, _ = DECODERS[side]
    msgs = data.draw(STREAMS[side], label="messages")
    stream = b"".join(p.encode(m) for m in msgs)
    cuts = data.draw(splits(len(stream)), label="cuts")
    decoder = make()
    got: list[Any] = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += decoder.feed(stream[a:b])
    assert got == msgs and decoder.buffered == 0
    # Byte by byte: each message comes out with its last byte, not before, not after.
    decoder, got, ends = make(), [], []
    for i in range(len(stream)):
        out = decoder.feed(stream[i : i + 1])
        got += out
        ends += [i + 1] * len(out)
    assert got == msgs
    assert ends == [sum(len(p.encode(m)) for m in msgs[: k + 1]) for k in range(len(msgs))]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChatServer, asyncio.AbstractEventLoop]]:
    loop = asyncio.new_event_loop()
    srv = ChatServer(server_config(tmp_path_factory.mktemp("fuzz") / "d", max_file=4096))
    loop.run_until_complete(srv.start())
    yield srv, loop
    loop.run_until_complete(srv.close())
    loop.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(st.lists(messages(p.ClientMsg), min_size=1, max_size=12))
def test_server_survives_any_sequence_of_valid_messages(
        fuzz_server: tuple[ChatServer, asyncio.AbstractEventLoop], caplog: pytest.LogCaptureFixture,
        sequence: list[p.Msg]) -> None:
    srv, loop = fuzz_server
    caplog.set_level(logging.ERROR, "pyrtc")

    async def run() -> None:
        host, port = srv.address
        reader, writer = await raw_open(host, port)
        writer.write(await signed_hello(reader, writer, "fuzzer", identity=FUZZER)
                     + p.encode(p.JoinRoom(room="General"))
                     + b"".join(p.encode(m) for m in sequence) + p.encode(p.Ping(nonce=424242)))
        dec = p.client_decoder()
        try:
            async with asyncio.timeout(30):
                while data := await reader.read(1 << 16):
                    if any(isinstance(m, p.Pong) and m.nonce == 424242 for m in dec.feed(data)):
                        break  # everything before the ping was handled
        except (ConnectionError, p.ProtocolError):
            pass
        writer.transport.abort()
        # Everyone else is still served.
        async with ClientSession(host, port, "witness") as w:
            await w.join("General")
            await w.send("General", "still here")

    loop.run_until_complete(run())
    bugs = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert bugs == [], bugs[0].getMessage()


_OTHER_CURVE = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(version=st.sampled_from([p.PROTOCOL_VERSION, p.PROTOCOL_VERSION, 2, 4, -1, 2**40]),
       name=messages(p.Hello).map(lambda h: h.name),
       key=st.sampled_from(["mine", "empty", "garbage", "other curve"]),
       proof=st.sampled_from(["valid", "other nonce", "garbage", "empty"]),
       extra=st.binary(max_size=32))
def test_server_survives_any_hello(fuzz_server: tuple[ChatServer, asyncio.AbstractEventLoop],
                                   caplog: pytest.LogCaptureFixture, version: int, name: str, key: str,
                                   proof: str, extra: bytes) -> None:
    """Protocol 3's hello with any key and proof: a Welcome or one clear fatal error."""
    srv, loop = fuzz_server
    caplog.set_level(logging.ERROR, "pyrtc")
    me = Identity.generate()

    async def run() -> None:
        host, port = srv.address
        reader, writer = await raw_open(host, port)
        greeting = await read_greeting(reader)
        fp = srv.fingerprint or ""
        nonce = greeting.nonce if proof != "other nonce" else bytes(32)
        signed = me.sign(p.hello_proof(nonce, fp, name))
        writer.write(p.encode(p.Hello(
            version=version, name=name,
            key={"mine": me.public_der, "empty": b"", "garbage": extra, "other curve": _OTHER_CURVE}[key],
            proof={"valid": signed, "other nonce": signed, "garbage": extra, "empty": b""}[proof])))
        dec = p.client_decoder()
        got: list[p.ServerMsg] = []
        async with asyncio.timeout(30):
            while not any(isinstance(m, (p.Welcome, p.Error)) for m in got):
                data = await reader.read(1 << 16)
                if not data:
                    break
                got += dec.feed(data)
        writer.transport.abort()
        errors = [m for m in got if isinstance(m, p.Error)]
        if version == p.PROTOCOL_VERSION and key == "mine" and proof == "valid":
            welcomed = [type(m) for m in got][:1] == [p.Welcome]  # the roster may follow it
            assert welcomed or [e.code for e in errors] in (["bad_name"], ["name_taken"]), got
        else:
            assert len(errors) == 1 and errors[0].fatal and errors[0].code in (
                "version_mismatch", "bad_identity"), got

    loop.run_until_complete(run())
    bugs = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert bugs == [], bugs[0].getMessage()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages(p.ServerMsg), max_size=20))
def test_client_state_takes_any_sequence_of_server_messages(sequence: list[p.ServerMsg]) -> None:
    """Pages, deltas and counts in any order (RoomAdded before or after the page that holds
    it, Reacted with any count) leave a state the window can draw."""
    state = ChatState()
    state.apply(p.Joined(room="General", members=[], history=[], last_seq=0))
    for msg in sequence:
        state.apply(msg)
    names = [r.name for r in state.available]
    assert len(names) == len(set(names)) and state.rooms_total >= len(names)
    for room in state.rooms.values():
        for m in room.messages:
            assert all(m.reaction_count(e) > 0 for e in m.reactions)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.builds(p.Posted, room=st.just("General"), seq=st.integers(1, 2**63 - 1),
                          sender=st.text(min_size=1, max_size=32), time=st.floats(allow_nan=False),
                          text=st.text(alphabet="😀a\n", max_size=MAX_TEXT),
                          reactions=st.lists(st.builds(p.Reaction, emoji=st.text(max_size=16),
                                                       members=st.lists(st.text(max_size=32), max_size=20),
                                                       count=st.integers(0, 2**63 - 1)), max_size=20)),
                max_size=40))
def test_pages_cut_to_their_budget_always_encode(history: list[p.Posted]) -> None:
    """Whatever was stored, a page cut by `fit_newest` is a frame that can be sent."""
    envelope = p.HistoryPage(room="General", messages=[], more=True, rid=1)
    kept, cut = fit_newest(history, room_for(envelope))
    frame = p.encode(p.HistoryPage(room="General", messages=kept, more=cut, rid=1))
    assert len(frame) <= p.limits.MAX_FRAME + 4 and kept == history[len(history) - len(kept):]
