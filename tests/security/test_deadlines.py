"""A peer that dribbles bytes keeps no socket open: the TLS handshake, the hello and every
frame begun must each be whole within their deadline (ServerConfig).

Each attack sends its bytes in PIECES pieces, one every GAP seconds: PIECES * GAP is many
times the configured deadline, so the server cuts it long before the last piece (and a
server without the deadline lets it finish, which these tests catch)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

import pytest

import pyrtc.protocol as p
from pyrtc.server import ChatServer

from ..conftest import client_tls, server_config, signed_hello

pytestmark = pytest.mark.both_loops

DEADLINE = 0.5  # seconds, for the stage under attack
GAP = 0.25
PIECES = 12  # 3 s of dribbling: six deadlines


def _pieces(data: bytes, n: int = PIECES) -> list[bytes]:
    size = -(-len(data) // n)
    return [data[i:i + size] for i in range(0, len(data), size)]


async def _dribble_raw(sock: socket.socket, data: bytes) -> tuple[int, bytes]:
    """Send `data` piece by piece on a raw socket; returns (pieces sent before the server
    closed, bytes it sent meanwhile). All pieces sent means it never closed."""
    loop = asyncio.get_running_loop()
    answer = bytearray()
    pieces = _pieces(data)
    for i, piece in enumerate(pieces):
        try:
            await loop.sock_sendall(sock, piece)
        except OSError:  # reset: closed
            return i, bytes(answer)
        await asyncio.sleep(GAP)
        while True:
            try:
                got = sock.recv(65536)
            except BlockingIOError:
                break
            except OSError:
                return i + 1, bytes(answer)
            if not got:
                return i + 1, bytes(answer)
            answer += got
    return len(pieces), bytes(answer)


def _client_hello() -> bytes:
    """The first bytes a TLS client sends (its ClientHello), made without a socket."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_tls().wrap_bio(incoming, outgoing, server_hostname="pyrtc")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


async def test_a_dribbled_tls_handshake_is_cut(tmp_path: Path) -> None:
    async with ChatServer(server_config(tmp_path / "d", handshake_timeout=DEADLINE)) as srv:
        hello = _client_hello()
        assert len(hello) >= PIECES
        sock = socket.socket()
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, srv.address)
        sent, answer = await _dribble_raw(sock, hello)
        sock.close()
        assert sent < PIECES  # cut before the ClientHello was whole ...
        assert answer == b""  # ... and never answered
        assert not srv.conns


async def _open(srv: ChatServer, tls: bool) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = srv.address
    return await asyncio.open_connection(host, port, ssl=client_tls() if tls else None)


async def _dribble_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
                          ) -> tuple[int, list[p.ServerMsg]]:
    """Send `data` piece by piece (over TLS, a record each) while reading what comes back;
    returns (pieces sent before the server closed, frames it sent meanwhile)."""
    frames: list[p.ServerMsg] = []
    decoder = p.client_decoder()

    async def read() -> None:
        try:
            while chunk := await reader.read(65536):
                frames.extend(decoder.feed(chunk))
        except OSError:
            pass

    reading = asyncio.ensure_future(read())
    sent = 0
    for piece in _pieces(data):
        if reading.done():  # the server closed
            break
        writer.write(piece)
        sent += 1
        await asyncio.sleep(GAP)
    reading.cancel()
    writer.transport.abort()
    return sent, frames


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
async def test_a_dribbled_hello_is_cut(tmp_path: Path, tls: bool) -> None:
    cfg = server_config(tmp_path / "d", tls=tls, hello_timeout=DEADLINE)
    async with ChatServer(cfg) as srv:
        reader, writer = await _open(srv, tls)
        hello = p.encode(p.Hello(version=p.PROTOCOL_VERSION, name="dribbler", client="x" * 40))
        sent, frames = await _dribble_stream(reader, writer, hello)
        assert sent < PIECES
        assert not any(isinstance(f, p.Welcome) for f in frames)
        assert [(f.code, f.fatal) for f in frames if isinstance(f, p.Error)] == [("timeout", True)]
        assert "dribbler" not in srv.online


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
async def test_a_dribbled_frame_after_hello_is_cut(tmp_path: Path, tls: bool) -> None:
    cfg = server_config(tmp_path / "d", tls=tls, frame_timeout=DEADLINE)
    async with ChatServer(cfg) as srv:
        reader, writer = await _open(srv, tls)
        writer.write(await signed_hello(reader, writer, "dribbler") + p.encode(p.JoinRoom(room="General")))
        decoder = p.client_decoder()
        got: list[p.ServerMsg] = []
        async with asyncio.timeout(10):
            while not any(isinstance(f, p.Joined) for f in got):
                got += decoder.feed(await reader.read(65536))
        post = p.encode(p.SendText(room="General", cid="c1", text="slowly " * 10))
        sent, frames = await _dribble_stream(reader, writer, post)
        assert sent < PIECES
        assert not any(isinstance(f, p.Acked) for f in frames)
        assert [(f.code, f.fatal) for f in frames if isinstance(f, p.Error)] == [("timeout", True)]
        assert srv.store.last_seq("General") == 0


async def test_whole_frames_keep_a_slow_client_connected(tmp_path: Path) -> None:
    """The deadline is per frame, not per connection: a client that sends whole frames
    slowly (each in one piece) stays, however long it takes."""
    cfg = server_config(tmp_path / "d", hello_timeout=DEADLINE, frame_timeout=DEADLINE)
    async with ChatServer(cfg) as srv:
        reader, writer = await _open(srv, True)
        writer.write(await signed_hello(reader, writer, "patient"))
        decoder = p.client_decoder()
        frames: list[p.ServerMsg] = []
        for i in range(PIECES):
            writer.write(p.encode(p.Ping(nonce=i)))
            async with asyncio.timeout(10):
                while not any(isinstance(f, p.Pong) and f.nonce == i for f in frames):
                    data = await reader.read(65536)
                    assert data, "closed"
                    frames += decoder.feed(data)
            await asyncio.sleep(GAP)
        assert not any(isinstance(f, p.Error) for f in frames)
        assert "patient" in {c.name for c in srv.conns}
        writer.close()
