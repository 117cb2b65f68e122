"""Fuzzing, bounded for the suite: the frame decoder, the server's message handling, the
client's state, and the pages cut to fit a frame. Only ProtocolError may come out of the
decoder; the server never hits an internal error and keeps serving. The seed corpus in
corpus/ is replayed on every run."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyrtc.protocol as p
from pyrtc.client import ChatState, ClientSession, Identity
from pyrtc.protocol.budget import fit_newest, room_for
from pyrtc.protocol.limits import MAX_TEXT
from pyrtc.server import ChatServer

from ..conftest import raw_open, read_greeting, server_config, signed_hello
from ..protocol.strategies import messages

FUZZER = Identity.generate()  # one person, however many examples run
CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.bin"))


def _feed_all(data: bytes) -> None:
    for decoder in (p.server_decoder(), p.client_decoder()):
        try:
            decoder.feed(data)
        except p.ProtocolError:
            pass


@pytest.mark.parametrize("seed", CORPUS, ids=lambda s: s.stem)
def test_corpus_replays_cleanly(seed: Path) -> None:
    _feed_all(seed.read_bytes())


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CORPUS), st.lists(st.tuples(st.integers(0, 4096), st.integers(0, 255)), max_size=8),
       st.integers(0, 4096), st.binary(max_size=64))
def test_mutated_frames_raise_only_protocol_error(seed: Path, flips: list[tuple[int, int]], cut: int,
                                                  tail: bytes) -> None:
    data = bytearray(seed.read_bytes())
    for pos, value in flips:
        if data:
            data[pos % len(data)] = value
    _feed_all(bytes(data[: max(0, len(data) - cut % (len(data) + 1))]) + tail)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> tuple[ChatServer, asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    srv = ChatServer(server_config(tmp_path_factory.mktemp("fuzz") / "d", max_file=4096))
    loop.run_until_complete(srv.start())
    yield srv, loop  # type: ignore[misc]
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
            async with asyncio.timeout(10):
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
        async with asyncio.timeout(10):
            while not any(isinstance(m, (p.Welcome, p.Error)) for m in got):
                data = await reader.read(1 << 16)
                if not data:
                    break
                got += dec.feed(data)
        writer.transport.abort()
        errors = [m for m in got if isinstance(m, p.Error)]
        if version == p.PROTOCOL_VERSION and key == "mine" and proof == "valid":
            welcomed = [type(m) for m in got] == [p.Welcome]
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
