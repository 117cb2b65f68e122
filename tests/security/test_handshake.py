"""The handshake (since protocol 3) seen from both ends: versions say "please update" both ways, a
server from before 3 (which waits for a hello) gets nothing, and the installation's key is
made once, private, and used by default."""

from __future__ import annotations

import asyncio
import os
import ssl
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import pyrtc.protocol as p
from pyrtc.client import ClientSession, ConnectionLost, Identity, IdentityError, Rejected
from pyrtc.client.identity import CERT_FILE, KEY_FILE
from pyrtc.server import ChatServer
from pyrtc.server.tls import ensure_certificate, server_context

from ..conftest import raw_open


async def test_a_client_from_before_3_is_told_to_update(server: ChatServer) -> None:
    reader, writer = await raw_open(*server.address)
    # A protocol-2 client says hello at once (it reads the greeting as an unknown frame).
    writer.write(p.encode(p.Hello(version=2, name="old")))
    dec = p.client_decoder()
    got: list[p.ServerMsg] = []
    async with asyncio.timeout(5):
        while data := await reader.read(1 << 16):
            got += dec.feed(data)
    writer.close()
    assert isinstance(got[0], p.Greeting)
    [error] = [m for m in got if isinstance(m, p.Error)]
    assert error.code == "version_mismatch" and error.fatal
    assert "please update PyRTC on the client" in error.message and "version 4, the client 2" in error.message


async def test_a_client_of_protocol_3_is_told_to_update(server: ChatServer) -> None:
    """A client of the previous protocol greets and proves its key as this one does: it is
    told to update, and nothing else happens."""
    reader, writer = await raw_open(*server.address)
    greeting_size = int.from_bytes(await reader.readexactly(4), "big")
    greeting = p.client_decoder().feed(greeting_size.to_bytes(4, "big") + await reader.readexactly(greeting_size))[0]
    assert isinstance(greeting, p.Greeting) and greeting.version == p.PROTOCOL_VERSION == 4
    me = Identity.generate()
    writer.write(p.encode(p.Hello(version=3, name="old", key=me.public_der,
                                  proof=me.sign(p.hello_proof(greeting.nonce, "", "old")))))
    dec = p.client_decoder()
    got: list[p.ServerMsg] = []
    async with asyncio.timeout(5):
        while data := await reader.read(1 << 16):
            got += dec.feed(data)
    writer.close()
    [error] = got
    assert isinstance(error, p.Error) and error.code == "version_mismatch" and error.fatal
    assert error.message == ("please update PyRTC on the client: the server speaks protocol version 4, "
                             "the client 3")


@dataclass
class FakeServer:
    """A TLS server that greets with `greet` (nothing: a server from before protocol 3,
    which waits for the hello) and records what it receives until the client hangs up."""

    port: int = 0
    greet: list[bytes] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"".join(self.greet))
        try:
            while data := await reader.read(1 << 16):
                self.received.append(data)
        finally:
            writer.close()
            self.ended.set()

    async def all_received(self) -> list[bytes]:
        async with asyncio.timeout(5):
            await self.ended.wait()
        return self.received


@pytest.fixture
async def fake_server(tmp_path: Path) -> AsyncIterator[FakeServer]:
    fake = FakeServer()
    cert, key, _ = ensure_certificate(tmp_path / "fake", "old")
    srv = await asyncio.start_server(fake.serve, "127.0.0.1", 0, ssl=server_context(cert, key))
    fake.port = srv.sockets[0].getsockname()[1]
    yield fake
    srv.close()
    await srv.wait_closed()


async def test_a_server_from_before_3_gets_nothing_and_the_user_is_told_to_update(fake_server: FakeServer) -> None:
    s = ClientSession("127.0.0.1", fake_server.port, "ann", connect_timeout=1.0)
    with pytest.raises(ConnectionLost,
                       match=r"no greeting from the server .* \(an older PyRTC server\? update it\)"):
        await s.connect()
    await s.close()
    assert await fake_server.all_received() == []  # not a hello, not a name


async def test_a_server_from_after_4_is_a_please_update_this_client(fake_server: FakeServer) -> None:
    future = p.PROTOCOL_VERSION + 1
    fake_server.greet.append(p.encode(p.Greeting(version=future, server_id="x", server="future", nonce=os.urandom(32))))
    s = ClientSession("127.0.0.1", fake_server.port, "ann")
    with pytest.raises(Rejected, match=f"please update PyRTC on this client: .* speaks protocol version {future}, "
                                       f"this client {p.PROTOCOL_VERSION}") as refused:
        await s.connect()
    assert refused.value.code == "version_mismatch" and s.fatal is refused.value  # no retrying
    await s.close()
    assert await fake_server.all_received() == []


async def test_a_server_of_protocol_3_is_a_please_update_the_server(fake_server: FakeServer) -> None:
    fake_server.greet.append(p.encode(p.Greeting(version=3, server_id="x", server="old", nonce=os.urandom(32))))
    s = ClientSession("127.0.0.1", fake_server.port, "ann")
    with pytest.raises(Rejected, match="please update PyRTC on the server: .* speaks protocol version 3, "
                                       "this client 4") as refused:
        await s.connect()
    assert refused.value.code == "version_mismatch" and s.fatal is refused.value
    await s.close()
    assert await fake_server.all_received() == []  # not a hello, not a name


def test_the_installation_key_is_made_once_and_private(tmp_path: Path) -> None:
    folder = tmp_path / "settings"
    made = Identity.load_or_create(folder)
    assert stat.S_IMODE((folder / KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    again = Identity.load_or_create(folder)
    assert again.uid == made.uid and len(made.uid) == 64
    assert b"BEGIN CERTIFICATE" in (folder / CERT_FILE).read_bytes()
    cert = ssl.PEM_cert_to_DER_cert((folder / CERT_FILE).read_text())
    assert made.public_der in cert  # the certificate is of this key (for serving TLS later)
    assert Identity.generate().uid != Identity.generate().uid
    (folder / KEY_FILE).write_text("not a key")
    with pytest.raises(IdentityError, match="damaged"):
        Identity.load_or_create(folder)


async def test_a_session_uses_the_installations_identity_by_default(server: ChatServer) -> None:
    async with ClientSession(*server.address, "ann") as ann:
        mine = Identity.load_or_create(Path(os.environ["PYRTC_SETTINGS"]).parent)
        assert ann.identity.uid == mine.uid
        assert server.conns and next(iter(server.conns)).uid == mine.uid
