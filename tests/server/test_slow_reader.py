"""A client that stops reading does not stall the others; one that only pauses gets
everything, in order; a closed connection gets nothing more. Over TLS and over plain TCP,
where the fan-out writes straight to the socket (sealing itself over TLS) until it is full
and the connection's own buffer takes the rest."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

import pyrtc.protocol as p
from pyrtc.client import ClientSession
from pyrtc.server import ChatServer
from pyrtc.server.connection import Connection, send_to_all
from pyrtc.server.stream import HIGH_WATER, ConnState

from ..conftest import client_tls, server_config, signed_hello

pytestmark = pytest.mark.both_loops

#: The server's send buffer for a stalled reader (the kernel doubles it for its bookkeeping).
SNDBUF = 1024 * 1024


async def _raw_member(host: str, port: int, name: str, tls: bool, rcvbuf: int = 0
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A hand-driven client, joined to General (its socket's receive buffer small if asked)."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    reader, writer = await asyncio.open_connection(sock=sock, ssl=client_tls() if tls else None,
                                                   server_hostname="pyrtc" if tls else None)
    writer.write(await signed_hello(reader, writer, name) + p.encode(p.JoinRoom(room="General")))
    await writer.drain()
    return reader, writer


async def _frames_until(reader: asyncio.StreamReader, frames: list[p.ServerMsg], decoder: p.FrameDecoder[p.ServerMsg],
                        done: Callable[[], bool]) -> None:
    while not done():
        data = await asyncio.wait_for(reader.read(65536), 10)
        assert data, "the server closed the connection"
        frames.extend(decoder.feed(data))


def _server_side(srv: ChatServer, name: str) -> Connection:
    return next(c for c in srv.conns if c.name == name)


async def _bytes_until_the_end(reader: asyncio.StreamReader) -> int:
    """How many bytes a reader still gets before its connection ends (closed or reset)."""
    count = 0
    try:
        async with asyncio.timeout(20):
            while chunk := await reader.read(65536):
                count += len(chunk)
    except (ConnectionError, ssl.SSLError):
        pass  # reset: the end
    return count


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
async def test_stalled_reader_is_dropped_and_others_get_everything(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, tls: bool) -> None:
    caplog.set_level(logging.WARNING, "pyrtc")
    limit = 512 * 1024
    async with ChatServer(server_config(tmp_path / "d", max_backlog=limit, tls=tls)) as srv:
        host, port = srv.address
        # The staller: a tiny receive buffer, joins, then never reads again.
        reader, writer = await _raw_member(host, port, "staller", tls, rcvbuf=4096)
        writer.transport.pause_reading()  # and never reads again
        staller_port = writer.get_extra_info("sockname")[1]
        async with ClientSession(host, port, "ann", tls=tls) as ann, \
                ClientSession(host, port, "bob", tls=tls) as bob:
            await ann.join("General")
            await bob.join("General")
            async with asyncio.timeout(10):  # its hello and join were read (it is a member)
                while "staller" not in srv.bus.room("General").listeners:
                    await asyncio.sleep(0.01)
            # The kernel's send buffer for the staller: fixed, so that it is full (the socket
            # takes no more) with at least SNDBUF bytes queued when the backlog overflows.
            _server_side(srv, "staller").sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
            text = "y" * 8000
            # ~12 MB through the room: more than the kernel's socket buffers plus the
            # staller's 512 KiB backlog limit.
            n = 1500
            sends = [asyncio.ensure_future(ann.send("General", text, timeout=20)) for _ in range(n)]
            await asyncio.gather(*sends)
            await bob.wait_for(lambda s: s.rooms["General"].last_seq == n, timeout=20)
            assert len(bob.state.rooms["General"].messages) == n
            assert "staller" not in {c.name for c in srv.conns}
        # Dropped means cut: the kernel discards what it had queued (a reset), so the staller,
        # reading again, gets at most what its own small receive buffer held, not the SNDBUF
        # bytes (and more) that sat in the server's send buffer.
        writer.transport.resume_reading()
        assert await _bytes_until_the_end(reader) < SNDBUF // 4
        writer.transport.abort()
    drops = [r.getMessage() for r in caplog.records if "stopped reading" in r.getMessage()]
    assert len(drops) == 1 and drops[0].startswith(f"127.0.0.1:{staller_port} (staller)")
    queued = re.search(r"(\d+) bytes queued", drops[0])
    assert queued is not None and int(queued.group(1)) > limit  # dropped once past the limit, not before


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
async def test_paused_reader_gets_every_post_in_order(tmp_path: Path, tls: bool) -> None:
    """The reader's socket fills while it pauses, so posts go partly straight to the socket
    and partly through the connection's buffer; after it reads again, not one byte is out
    of order."""
    async with ChatServer(server_config(tmp_path / "d", tls=tls)) as srv:
        host, port = srv.address
        reader, writer = await _raw_member(host, port, "pauser", tls, rcvbuf=4096)
        decoder = p.client_decoder()
        frames: list[p.ServerMsg] = []
        await _frames_until(reader, frames, decoder, lambda: any(isinstance(f, p.Joined) for f in frames))
        writer.transport.pause_reading()
        conn = _server_side(srv, "pauser")
        assert conn.state is ConnState.OPEN and (conn.tls is not None) == tls and not conn.buffered
        # Small kernel buffers on the server's side too, so that they fill at once.
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        n = 300
        async with ClientSession(host, port, "ann", tls=tls) as ann:
            await ann.join("General")
            texts = [f"{i:04d} " + "z" * 3000 for i in range(n)]  # ~0.9 MB
            await asyncio.gather(*(ann.send("General", t, timeout=20) for t in texts[:n // 2]))
            assert conn.buffered > 0  # the socket is full: the rest waits in the buffer
            # Posts keep coming while the socket drains: each must queue behind the buffer.
            writer.transport.resume_reading()
            reading = asyncio.ensure_future(_frames_until(
                reader, frames, decoder, lambda: sum(isinstance(f, p.Posted) for f in frames) >= n))
            for t in texts[n // 2:]:
                await ann.send("General", t, timeout=20)
            await reading
        posted = [f for f in frames if isinstance(f, p.Posted)]
        assert [m.seq for m in posted] == list(range(1, n + 1))
        assert sorted(m.text for m in posted) == [m.text for m in posted] == texts
        writer.close()


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
async def test_an_aborted_connection_never_writes_to_its_old_descriptor(tmp_path: Path, tls: bool) -> None:
    """Aborted, a connection is told it is lost one loop iteration later; meanwhile the
    kernel may give its descriptor number to a new socket. Fan-out, queued and direct
    writes in that window must not reach the new socket (nor fail)."""
    async with ChatServer(server_config(tmp_path / "d", tls=tls)) as srv:
        host, port = srv.address
        reader, writer = await _raw_member(host, port, "leaver", tls)
        frames: list[p.ServerMsg] = []
        await _frames_until(reader, frames, p.client_decoder(), lambda: any(isinstance(f, p.Joined) for f in frames))
        conn = _server_side(srv, "leaver")
        old_fd = conn.fd
        conn.abort()
        assert conn.state is ConnState.CLOSED and conn in srv.conns  # not told yet
        new, peer = socket.socketpair()  # takes the lowest free number: the one just closed
        try:
            assert new.fileno() == old_fd
            frame = p.encode(p.Typing(room="General", name="ann", typing=True))
            send_to_all([conn], frame)
            srv.bus.publish_now("General", frame)
            conn.send_now(frame)
            conn.send(frame)
            conn.flush()
            conn.write(frame)
            peer.setblocking(False)
            await asyncio.sleep(0.05)  # the flush `send` scheduled has run
            with pytest.raises(BlockingIOError):
                peer.recv(1)  # not a byte reached the socket that took the number
        finally:
            new.close()
            peer.close()
        async with asyncio.timeout(10):
            assert await reader.read() == b""  # the client sees the end, nothing after Joined
        await asyncio.sleep(0)
        assert conn not in srv.conns  # and the server forgot it
        writer.close()


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
async def test_a_closing_connection_takes_nothing_new_and_drains_what_it_had(tmp_path: Path, tls: bool) -> None:
    async with ChatServer(server_config(tmp_path / "d", tls=tls)) as srv:
        host, port = srv.address
        reader, writer = await _raw_member(host, port, "closer", tls, rcvbuf=4096)
        decoder = p.client_decoder()
        frames: list[p.ServerMsg] = []
        await _frames_until(reader, frames, decoder, lambda: any(isinstance(f, p.Joined) for f in frames))
        writer.transport.pause_reading()
        conn = _server_side(srv, "closer")
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        before = [p.encode(p.Typing(room="General", name=f"before{i:03d}" + "x" * 900, typing=True))
                  for i in range(200)]
        for frame in before:
            send_to_all([conn], frame)
        assert conn.buffered > 0
        conn.close()
        assert conn.state is ConnState.CLOSING and conn.closed  # draining its buffer
        late = p.encode(p.Typing(room="General", name="late", typing=True))
        send_to_all([conn], late)
        conn.send_now(late)
        conn.send(late)
        conn.write(late)
        writer.transport.resume_reading()
        data = bytearray()
        async with asyncio.timeout(10):
            while chunk := await reader.read(65536):
                data += chunk
        got = [f for f in decoder.feed(bytes(data)) if isinstance(f, p.Typing)]
        assert [f.name for f in got] == [f"before{i:03d}" + "x" * 900 for i in range(200)]
        await asyncio.sleep(0)
        assert conn.state is ConnState.CLOSED
        writer.close()


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
async def test_a_download_to_a_reader_that_stopped_waits_instead_of_buffering(tmp_path: Path, tls: bool) -> None:
    """The file is read from disk only as the socket takes it: while the reader pauses, the
    server holds about HIGH_WATER of it, not the file; it resumes where it stopped."""
    body = os.urandom(24 * 1024 * 1024)  # several times what the kernel's buffers hold
    (tmp_path / "big.bin").write_bytes(body)
    async with ChatServer(server_config(tmp_path / "d", tls=tls)) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "ann", tls=tls) as ann:
            await ann.join("General")
            seq = await ann.upload("General", tmp_path / "big.bin")
            blob = ann.state.rooms["General"].by_seq[seq].file.blob_id  # type: ignore[union-attr]
        reader, writer = await _raw_member(host, port, "reader", tls, rcvbuf=4096)
        frames: list[p.ServerMsg] = []
        decoder = p.client_decoder()
        await _frames_until(reader, frames, decoder, lambda: any(isinstance(f, p.Joined) for f in frames))
        writer.transport.pause_reading()
        writer.write(p.encode(p.FetchFile(blob_id=blob, rid=7)))
        conn = _server_side(srv, "reader")
        async with asyncio.timeout(20):
            while not conn._write_paused:  # the download waits for the buffer to drain
                await asyncio.sleep(0.01)
        for _ in range(20):  # it stays waiting, holding no more than about HIGH_WATER
            await asyncio.sleep(0.01)
            assert conn.buffered <= HIGH_WATER + 2 * p.limits.CHUNK_SIZE
        assert conn.tasks and not any(t.done() for t in conn.tasks)
        writer.transport.resume_reading()
        got = bytearray()
        async with asyncio.timeout(60):
            while not any(isinstance(f, p.FileEnd) for f in frames):
                data = await reader.read(1 << 20)
                assert data, "closed"
                for f in decoder.feed(data):
                    frames.append(f)
                    if isinstance(f, p.FileData):
                        assert f.offset == len(got)
                        got += f.data
        assert bytes(got) == body
        writer.close()
