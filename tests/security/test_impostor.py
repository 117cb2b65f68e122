"""A client that remembers a server sends nothing, not even its hello and password, to an
impostor at the same address (issue 16 item 5): the server greets first, and the client
checks the certificate before any byte of its own. The impostor is a real ChatServer with
its own certificate, listening where the real one was, recording every byte it receives."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pyrtc.client import ClientSession, IdentityMismatch
from pyrtc.discovery import KnownServers, identity_check
from pyrtc.server import ChatServer
from pyrtc.server.connection import Connection
from pyrtc.server.passwords import hash_password

from ..conftest import server_config


@pytest.mark.parametrize("claims", ["its own id", "the real server's id"])
async def test_the_client_sends_nothing_to_an_impostor_where_it_remembers_the_server(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, claims: str) -> None:
    real = ChatServer(server_config(tmp_path / "real", password_hash=hash_password("hunter2")))
    host, port = await real.start()
    # Connected once, as the CLI does: trust on first use, then remembered.
    async with ClientSession(host, port, "ann", password="hunter2", trust=identity_check(host, port)) as s:
        KnownServers().remember(server_id=s.state.server_id, name=s.state.server, host=host, port=port,
                                fingerprint=s.peer_fingerprint or "")
    await real.close()

    (tmp_path / "fake").mkdir()
    if claims != "its own id":
        (tmp_path / "fake" / "server-id").write_text((tmp_path / "real" / "server-id").read_text())
    impostor = ChatServer(server_config(tmp_path / "fake", port=port))
    received: list[bytes] = []
    accepted: list[Connection] = []
    heard, greet = Connection.data_received, impostor.connected

    def record(conn: Connection, data: bytes) -> None:
        if conn.server is impostor:
            received.append(data)
        heard(conn, data)

    def count(conn: Connection) -> None:
        accepted.append(conn)
        greet(conn)

    monkeypatch.setattr(Connection, "data_received", record)
    monkeypatch.setattr(impostor, "connected", count)
    await impostor.start()
    try:
        assert impostor.fingerprint != real.fingerprint and impostor.address == (host, port)
        victim = ClientSession(host, port, "ann", password="hunter2", trust=identity_check(host, port))
        with pytest.raises(IdentityMismatch, match="REFUSED.*nothing was sent"):
            await victim.connect()
        await victim.close()
        async with asyncio.timeout(5):  # the refusal closed the connection: all it sent has arrived
            while impostor.conns:
                await asyncio.sleep(0.01)
    finally:
        await impostor.close()
    assert len(accepted) == 1  # the client did reach the impostor (TLS done, greeting sent) ...
    assert received == []  # ... and sent it nothing: no hello, no name, no password
