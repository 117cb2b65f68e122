"""Sockets that never start TLS count towards --max-per-address and the total limit from
the moment they are accepted: a flood of them from one address cannot lock others out."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

import pyrtc.protocol as p
from pyrtc.server import ChatServer
from pyrtc.server.sockets import REFUSE_SLACK

from ..conftest import client_tls, raw_open, server_config, signed_hello

pytestmark = pytest.mark.both_loops

OTHER = "127.0.0.2"  # another address on the same loopback


async def _idle_sockets(address: tuple[str, int], n: int) -> list[socket.socket]:
    """`n` TCP connections that never start TLS nor send a byte."""
    loop = asyncio.get_running_loop()
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        await loop.sock_connect(s, address)
        socks.append(s)
    return socks


def _closed(s: socket.socket) -> bool:
    """The server closed this socket (seen without consuming anything)."""
    try:
        return s.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


async def _first_frames(reader: asyncio.StreamReader) -> list[p.ServerMsg]:
    async with asyncio.timeout(10):
        return p.client_decoder().feed(await reader.read(1 << 16))


async def _chats_from(address: tuple[str, int], source: str, name: str) -> bool:
    """A TLS client from `source` says hello, joins and posts; True once its post is acked."""
    reader, writer = await asyncio.open_connection(*address, ssl=client_tls(), server_hostname="pyrtc",
                                                   local_addr=(source, 0))
    writer.write(await signed_hello(reader, writer, name) + p.encode(p.JoinRoom(room="General"))
                 + p.encode(p.SendText(room="General", cid="c", text="through")))
    decoder = p.client_decoder()
    frames: list[p.ServerMsg] = []
    try:
        async with asyncio.timeout(10):
            while not any(isinstance(f, (p.Acked, p.Error)) for f in frames):
                data = await reader.read(65536)
                if not data:
                    break
                frames += decoder.feed(data)
    finally:
        writer.close()
    return any(isinstance(f, p.Acked) for f in frames)


async def test_sockets_without_tls_count_towards_the_per_address_limit(tmp_path: Path) -> None:
    cfg = server_config(tmp_path / "d", max_per_address=4, handshake_timeout=120)
    async with ChatServer(cfg) as srv:
        idle = await _idle_sockets(srv.address, 4)
        try:
            # A TLS client from the same address comes after them in the accept queue.
            reader, writer = await raw_open(*srv.address)
            frames = await _first_frames(reader)
            assert [(f.code, f.fatal) for f in frames if isinstance(f, p.Error)] == [("too_many_connections", True)]
            assert "4 connections from 127.0.0.1" in frames[0].message  # type: ignore[union-attr]
            writer.close()
            # Everyone else is unaffected.
            assert await _chats_from(srv.address, OTHER, "neighbour")
            # A flood from that address costs the server no more than the limit plus a few
            # refused with an explanation (after a handshake these never start): the rest are
            # closed at once.
            listener = srv._listener
            assert listener is not None
            async with asyncio.timeout(10):
                while listener.count("127.0.0.1") > 4:  # the refused TLS client is gone
                    await asyncio.sleep(0.01)
            flood = await _idle_sockets(srv.address, 60)
            async with asyncio.timeout(30):
                while sum(map(_closed, flood)) < 60 - REFUSE_SLACK:
                    await asyncio.sleep(0.01)
            assert sum(map(_closed, flood)) == 60 - REFUSE_SLACK
            assert listener.count("127.0.0.1") == 4 + REFUSE_SLACK
            assert await _chats_from(srv.address, OTHER, "neighbour2")
            for s in flood:
                s.close()
        finally:
            for s in idle:
                s.close()


async def test_sockets_without_tls_count_towards_the_total_limit(tmp_path: Path) -> None:
    cfg = server_config(tmp_path / "d", max_connections=3, handshake_timeout=120)
    async with ChatServer(cfg) as srv:
        idle = await _idle_sockets(srv.address, 3)
        try:
            reader, writer = await asyncio.open_connection(*srv.address, ssl=client_tls(), server_hostname="pyrtc",
                                                           local_addr=(OTHER, 0))
            frames = await _first_frames(reader)
            assert [f.code for f in frames if isinstance(f, p.Error)] == ["server_full"]
            writer.close()
        finally:
            for s in idle:
                s.close()
        # Once they are gone, there is room again.
        async with asyncio.timeout(10):
            while srv._listener is not None and srv._listener.streams:
                await asyncio.sleep(0.01)
        assert await _chats_from(srv.address, OTHER, "later")
