"""A client that stops reading does not stall the others."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import pytest

import pyrtc.protocol as p
from pyrtc.client import ClientSession
from pyrtc.server import ChatServer

from ..conftest import client_tls, server_config


async def test_stalled_reader_is_dropped_and_others_get_everything(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "pyrtc")
    cfg = server_config(tmp_path / "d", max_backlog=512 * 1024)
    async with ChatServer(cfg) as srv:
        host, port = srv.address
        # The staller: a tiny receive buffer, joins, then never reads again.
        plain = socket.socket()
        plain.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        plain.setblocking(False)
        await asyncio.get_running_loop().sock_connect(plain, (host, port))
        _, writer = await asyncio.open_connection(sock=plain, ssl=client_tls(), server_hostname="pyrtc")
        writer.write(p.encode(p.Hello(version=p.PROTOCOL_VERSION, name="staller"))
                     + p.encode(p.JoinRoom(room="General")))
        await writer.drain()
        writer.transport.pause_reading()  # and never reads again
        async with ClientSession(host, port, "ann") as ann, ClientSession(host, port, "bob") as bob:
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
