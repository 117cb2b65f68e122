"""Bad input gets an error frame and a closed connection; everyone else keeps chatting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

import pyrtc.protocol as p
from pyrtc.client import ClientSession
from pyrtc.server import ChatServer

from ..conftest import ClientFactory, FakeClock, raw_open, server_config, signed_hello, texts


async def _raw_exchange(server: ChatServer, payload: bytes, hello: bool) -> list[p.ServerMsg]:
    host, port = server.address
    reader, writer = await raw_open(host, port)
    if hello:
        writer.write(await signed_hello(reader, writer, "mallory"))
    writer.write(payload)
    dec = p.client_decoder()
    out: list[p.ServerMsg] = []
    async with asyncio.timeout(5):
        while data := await reader.read(65536):  # until the server closes
            out += dec.feed(data)
    writer.close()
    return out


def _frame(obj: object) -> bytes:
    body = msgspec.msgpack.encode(obj)
    return len(body).to_bytes(4, "big") + body


@pytest.mark.parametrize("payload,hello,code", [
    (b"\xde\xad\xbe\xef" * 64, True, "frame_too_large"),
    (b"\x00\x00\x00\x05\xc1\xc1\xc1\xc1\xc1", True, "bad_message"),
    ((2**31 - 1).to_bytes(4, "big"), True, "frame_too_large"),
    (_frame({"t": "format_disk"}), True, "bad_message"),
    (p.encode(p.SendText(room="General", cid="c", text="hi")), False, "unexpected_message"),
    (p.encode(p.Hello(version=99, name="x")), False, "version_mismatch"),
    (p.encode(p.Hello(version=p.PROTOCOL_VERSION, name="x")), True, "unexpected_message"),
    (p.encode(p.Hello(version=2, name="x")), False, "version_mismatch"),  # a client from before 3
])
async def test_bad_input_gets_an_error_and_a_close_while_others_chat(
        server: ChatServer, connect: ClientFactory, payload: bytes, hello: bool, code: str) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await ann.join("General")
    await bob.join("General")
    await ann.send("General", "before")

    got = await _raw_exchange(server, payload, hello)
    errors = [m for m in got if isinstance(m, p.Error)]
    assert [e.code for e in errors] == [code] and errors[0].fatal and errors[0].message

    await ann.send("General", "after")
    await bob.wait_for(lambda s: texts(bob, "General") == ["before", "after"])
    assert ann.state.connection == bob.state.connection == "connected"


async def test_a_vanished_client_mid_upload_harms_no_one(server: ChatServer, connect: ClientFactory) -> None:
    host, port = server.address
    reader, writer = await raw_open(host, port)
    writer.write(await signed_hello(reader, writer, "gone"))
    writer.write(p.encode(p.JoinRoom(room="General")))
    writer.write(p.encode(p.OfferFile(room="General", cid="c", name="x", size=10**6, blob_id="d" * 64)))
    writer.write(p.encode(p.FileChunk(blob_id="d" * 64, offset=0, data=b"x" * 1000))[:-300])  # cut mid-frame
    await writer.drain()
    writer.transport.abort()
    ann = await connect("ann")
    await ann.join("General")
    assert await ann.send("General", "still here") == 1
    assert not server.blobs.has("d" * 64)


async def test_silent_connection_is_pinged_then_dropped(tmp_path: Path, clock: FakeClock) -> None:
    cfg = server_config(tmp_path / "d", heartbeat=10.0, idle_timeout=30.0)
    async with ChatServer(cfg, clock=clock) as srv:
        host, port = srv.address
        reader, writer = await raw_open(host, port)
        writer.write(await signed_hello(reader, writer, "halfopen"))
        dec = p.client_decoder()
        async with asyncio.timeout(5):
            assert isinstance(dec.feed(await reader.read(65536))[0], p.Welcome)
        async with ClientSession(host, port, "ann") as ann:  # answers pings: stays
            clock.advance(11)
            srv.sweep()
            async with asyncio.timeout(5):
                assert any(isinstance(m, p.Ping) for m in dec.feed(await reader.read(65536)))
            await ann.ping()
            clock.advance(25)
            srv.sweep()
            async with asyncio.timeout(5):
                while await reader.read(65536):  # closed by the server
                    pass
            assert {c.name for c in srv.conns} == {"ann"}
        writer.close()


async def test_good_frames_before_garbage_are_still_served(server: ChatServer, connect: ClientFactory) -> None:
    bob = await connect("bob")
    await bob.join("General")
    payload = (p.encode(p.JoinRoom(room="General"))
               + p.encode(p.SendText(room="General", cid="c", text="last words")) + b"\xff" * 8)
    got = await _raw_exchange(server, payload, hello=True)
    assert [m.code for m in got if isinstance(m, p.Error)] == ["frame_too_large"]
    await bob.wait_for(lambda s: texts(bob, "General") == ["last words"])
