"""A client that stops reading does not stall the others; one that only pauses gets
everything, in order. Over TLS and over plain TCP, where the fan-out writes straight to the
socket (encrypting itself over TLS) until it is full and asyncio buffers the rest."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

import pyrtc.protocol as p
from pyrtc.client import ClientSession
from pyrtc.server import ChatServer
from pyrtc.server.connection import send_to_all

from ..conftest import client_tls, server_config, signed_hello


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
async def test_stalled_reader_is_dropped_and_others_get_everything(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, tls: bool) -> None:
    caplog.set_level(logging.WARNING, "pyrtc")
    cfg = server_config(tmp_path / "d", max_backlog=512 * 1024, tls=tls)
    async with ChatServer(cfg) as srv:
        host, port = srv.address
        # The staller: a tiny receive buffer, joins, then never reads again.
        plain = socket.socket()
        plain.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        plain.setblocking(False)
        await asyncio.get_running_loop().sock_connect(plain, (host, port))
        reader, writer = await asyncio.open_connection(sock=plain, ssl=client_tls() if tls else None,
                                                       server_hostname="pyrtc" if tls else None)
        writer.write(await signed_hello(reader, writer, "staller")
                     + p.encode(p.JoinRoom(room="General")))
        await writer.drain()
        writer.transport.pause_reading()  # and never reads again
        async with ClientSession(host, port, "ann", tls=tls) as ann, \
                ClientSession(host, port, "bob", tls=tls) as bob:
            await ann.join("General")
            await bob.join("General")
            text = "y" * 8000
            # ~12 MB through the room: more than the kernel's socket buffers (up to 4 MB each
            # way here) plus the staller's 512 KiB backlog limit.
            n = 1500
            sends = [asyncio.ensure_future(ann.send("General", text, timeout=20)) for _ in range(n)]
            await asyncio.gather(*sends)
            await bob.wait_for(lambda s: s.rooms["General"].last_seq == n, timeout=20)
            assert len(bob.state.rooms["General"].messages) == n
            assert "staller" not in {c.name for c in srv.conns}
        writer.transport.abort()
    assert any("stopped reading" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
async def test_paused_reader_gets_every_post_in_order(tmp_path: Path, tls: bool) -> None:
    """The reader's socket fills while it pauses, so posts go partly straight to the socket
    and partly through asyncio's buffer; after it reads again, not one byte is out of order."""
    async with ChatServer(server_config(tmp_path / "d", tls=tls)) as srv:
        host, port = srv.address
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(sock=sock, ssl=client_tls() if tls else None,
                                                       server_hostname="pyrtc" if tls else None)
        writer.write(await signed_hello(reader, writer, "pauser")
                     + p.encode(p.JoinRoom(room="General")))
        await writer.drain()
        decoder = p.client_decoder()
        frames: list[p.ServerMsg] = []

        async def read_until(done: Callable[[], bool]) -> None:
            while not done():
                frames.extend(decoder.feed(await asyncio.wait_for(reader.read(65536), 10)))

        await read_until(lambda: any(isinstance(f, p.Joined) for f in frames))
        writer.transport.pause_reading()
        conn = next(c for c in srv.conns if c.name == "pauser")
        assert conn.transport is not None
        assert conn.fd >= 0 and (conn.tls is not None) == tls  # the fan-out's direct path is on
        # Small kernel buffers on the server's side too, so that they fill at once.
        conn.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        n = 300
        async with ClientSession(host, port, "ann", tls=tls) as ann:
            await ann.join("General")
            texts = [f"{i:04d} " + "z" * 3000 for i in range(n)]  # ~0.9 MB
            await asyncio.gather(*(ann.send("General", t, timeout=20) for t in texts[:n // 2]))
            # asyncio holds the rest: in its TLS layer or in the socket's transport under it
            assert conn.transport.get_write_buffer_size() + conn.buffered() > 0
            # Posts keep coming while the socket drains: each must queue behind asyncio's.
            writer.transport.resume_reading()
            reading = asyncio.ensure_future(
                read_until(lambda: sum(isinstance(f, p.Posted) for f in frames) >= n))
            for t in texts[n // 2:]:
                await ann.send("General", t, timeout=20)
            await reading
        posted = [f for f in frames if isinstance(f, p.Posted)]
        assert [m.seq for m in posted] == list(range(1, n + 1))
        assert sorted(m.text for m in posted) == [m.text for m in posted] == texts
        writer.close()


async def test_tls_fan_out_writes_nothing_once_the_tls_layer_has_lost_its_socket(tmp_path: Path) -> None:
    """asyncio's TLS layer closes the socket at once but tells the connection it is lost one
    loop iteration later (call_soon): in between, the descriptor number may already be a new
    client's. A fan-out in that window must not write a byte to it."""
    async with ChatServer(server_config(tmp_path / "d", tls=True)) as srv:
        host, port = srv.address
        reader, writer = await asyncio.open_connection(host, port, ssl=client_tls(), server_hostname="pyrtc")
        writer.write(await signed_hello(reader, writer, "leaver")
                     + p.encode(p.JoinRoom(room="General")))
        decoder = p.client_decoder()
        frames: list[p.ServerMsg] = []
        while not any(isinstance(f, p.Joined) for f in frames):
            frames.extend(decoder.feed(await asyncio.wait_for(reader.read(65536), 10)))
        conn = next(c for c in srv.conns if c.name == "leaver")
        assert conn.tls is not None
        layer, raw = conn.tls, conn.tls._transport
        # What the socket's transport does just before it closes the socket (kept open here,
        # so that anything written to it would reach the client).
        layer.connection_lost(None)  # type: ignore[attr-defined]
        assert conn.fd >= 0 and not conn.closed  # the connection has not heard yet
        send_to_all([conn], p.encode(p.Typing(room="General", name="ann", typing=True)))
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.5)
        raw.abort()
        writer.transport.abort()
