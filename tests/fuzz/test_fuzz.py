"""Fuzzing, bounded for the suite: the frame decoder and the server's message handling.
Only ProtocolError may come out of the decoder; the server never hits an internal error and
keeps serving. The seed corpus in corpus/ is replayed on every run."""

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
from pyrtc.client import ClientSession, Identity
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
