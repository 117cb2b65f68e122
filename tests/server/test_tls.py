"""Encrypted by default, with a pinned server identity."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import pytest

import pyrtc.protocol as p
from pyrtc.client import ClientSession, IdentityMismatch
from pyrtc.server import ChatServer

from ..conftest import client_tls, server_config

pytestmark = pytest.mark.both_loops


async def _tap(listen_port_to: int, seen: bytearray) -> tuple[asyncio.Server, int]:
    """A TCP relay that keeps a copy of every byte in both directions."""

    async def relay(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                seen.extend(data)
                w.write(data)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()

    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        sr, sw = await asyncio.open_connection("127.0.0.1", listen_port_to)
        await asyncio.gather(relay(cr, sw), relay(sr, cw))

    tap = await asyncio.start_server(handle, "127.0.0.1", 0)
    return tap, tap.sockets[0].getsockname()[1]


@pytest.mark.parametrize("tls", [True, False])
async def test_captured_traffic_holds_no_message_text(tmp_path: Path, tls: bool) -> None:
    secret = "the merger closes on Friday"
    async with ChatServer(server_config(tmp_path / "d", tls=tls)) as srv:
        seen = bytearray()
        tap, port = await _tap(srv.address[1], seen)
        async with ClientSession("127.0.0.1", port, "ann", tls=tls) as ann, \
                ClientSession("127.0.0.1", port, "bob", tls=tls) as bob:
            await ann.join("General")
            await bob.join("General")
            await ann.send("General", secret)
            await bob.wait_for(lambda s: s.rooms["General"].last_seq == 1)
        tap.close()
    if tls:
        assert secret.encode() not in seen and b"ann" not in seen and len(seen) > 1000
    else:  # the same capture without TLS shows the text: the check above can fail
        assert secret.encode() in seen


async def test_wrong_fingerprint_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    async with ChatServer(server_config(tmp_path / "d")) as srv:
        host, port = srv.address
        s = ClientSession(host, port, "ann", fingerprint="ab" * 32)
        with pytest.raises(IdentityMismatch, match="REFUSED.*not the one expected"):
            await s.connect()
        await s.close()
        assert srv.online == {}  # no hello reached it
        good = ClientSession(host, port, "ann", fingerprint=srv.fingerprint)
        await good.connect()
        assert good.peer_fingerprint == srv.fingerprint
        await good.close()


async def test_certificate_is_kept_across_restarts(tmp_path: Path) -> None:
    async with ChatServer(server_config(tmp_path / "d")) as srv:
        first = srv.fingerprint
    async with ChatServer(server_config(tmp_path / "d")) as srv:
        assert srv.fingerprint == first and first is not None and len(first) == 64
    assert (tmp_path / "d" / "tls-key.pem").stat().st_mode & 0o077 == 0  # private key not world-readable


async def test_changed_identity_of_a_known_server_is_refused(tmp_path: Path) -> None:
    from pyrtc.discovery import KnownServers, identity_check

    data = tmp_path / "d"
    async with ChatServer(server_config(data, port=0)) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "ann", trust=identity_check(host, port)) as s:
            KnownServers().remember(server_id=s.state.server_id, name=s.state.server, host=host, port=port,
                                    fingerprint=s.peer_fingerprint or "")
    # Same server name and id, new certificate: an impostor, as far as the client can tell.
    for f in ("tls-cert.pem", "tls-key.pem"):
        (data / f).unlink()
    async with ChatServer(server_config(data, port=0)) as srv:
        host, port = srv.address
        s = ClientSession(host, port, "ann", trust=identity_check(host, port))
        with pytest.raises(IdentityMismatch, match="DIFFERENT identity"):
            await s.connect()
        await s.close()


async def test_plain_client_gets_a_clear_error_from_a_tls_server(tmp_path: Path) -> None:
    from pyrtc.client import ConnectionLost

    async with ChatServer(server_config(tmp_path / "d", tls=False)) as srv:
        s = ClientSession(*srv.address, "ann")  # TLS on, server without
        with pytest.raises(ConnectionLost, match="does not speak TLS.*--insecure"):
            await s.connect()
        await s.close()
    assert shutil.which("true")


async def test_a_close_notify_alone_ends_the_connection(tmp_path: Path) -> None:
    """A peer that ends TLS (close_notify) but keeps TCP open is answered with the server's
    own close_notify and let go, not left open until some deadline (the hello's is far
    beyond the client's 10 s patience here, so only the close_notify can end it)."""
    async with ChatServer(server_config(tmp_path / "d", hello_timeout=600)) as srv:

        def end_tls_only() -> tuple[object, bytes]:
            with socket.create_connection(srv.address, timeout=10) as raw:
                tls = client_tls().wrap_socket(raw, server_hostname="pyrtc")
                decoder, frames = p.client_decoder(), []
                while not frames:  # the greeting: then nothing else is in flight
                    frames = decoder.feed(tls.recv(65536))
                plain = tls.unwrap()  # sends close_notify; returns once the server's came
                return frames[0], plain.recv(1)

        greeting, after = await asyncio.to_thread(end_tls_only)
        assert isinstance(greeting, p.Greeting)
        assert after == b""  # the server closed its socket too
