"""scrypt never runs on the event loop (issue 16 item 6): a flood of password work stalls
only its senders. Each test counts what is answered in which order (a witness's round
trips against the flood's answers), never how long anything takes."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest

import pyrtc.protocol as p
from pyrtc.client import ClientSession, Identity, Rejected
from pyrtc.server import ChatServer
from pyrtc.server.passwords import hash_password

from ..conftest import raw_open, server_config, signed_hello

FLOOD = 40  # requests that each cost one scrypt (~50 ms here), all sent at once
PINGS = 10  # witness round trips that must all be answered before the flood's last answer


async def test_scrypt_never_runs_on_the_event_loop_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_loop: list[bool] = []
    scrypt = hashlib.scrypt

    def spy(*args: Any, **kw: Any) -> bytes:
        on_loop.append(threading.current_thread() is threading.main_thread())
        return scrypt(*args, **kw)

    async with ChatServer(server_config(tmp_path / "d", password_hash=hash_password("pw"))) as srv:
        monkeypatch.setattr(hashlib, "scrypt", spy)
        async with ClientSession(*srv.address, "ann", password="pw") as ann, \
                ClientSession(*srv.address, "bob", password="pw", identity=Identity.generate()) as bob:
            await ann.create_room("Locked", password="x")
            with pytest.raises(Rejected, match="not it"):
                await bob.join("Locked", password="y")
            await bob.join("Locked", password="x")
    assert len(on_loop) == 6 and not any(on_loop)  # 2 hellos, 1 room made, 3 joins (its maker too)


async def test_a_witness_is_answered_while_room_passwords_are_hashed(tmp_path: Path) -> None:
    async with ChatServer(server_config(tmp_path / "d", rooms_per_hour=0)) as srv, \
            ClientSession(*srv.address, "witness") as witness:
        await _room_flood(srv, witness)


async def _room_flood(server: ChatServer, witness: ClientSession) -> None:
    reader, writer = await raw_open(*server.address)
    writer.write(await signed_hello(reader, writer, "flood")
                 + b"".join(p.encode(p.CreateRoom(room=f"Room{i}", password="pw", rid=i + 1))
                            for i in range(FLOOD)))
    events: list[str] = []
    started = asyncio.Event()

    async def read_flood() -> None:
        dec = p.client_decoder()
        answered = 0
        while answered < FLOOD:
            data = await reader.read(1 << 16)
            assert data, "the server closed the flood's connection"
            for m in dec.feed(data):
                if isinstance(m, p.RoomList) and m.rid:
                    answered += 1
                    started.set()
        events.append("flood answered")

    flood = asyncio.ensure_future(read_flood())
    async with asyncio.timeout(60):
        await started.wait()  # the server is into the flood
        for _ in range(PINGS):
            await witness.ping()
            events.append("ping")
        await flood
    writer.close()
    assert events.index("flood answered") == PINGS, events
    assert len(server.store.rooms()) == 3 + FLOOD


async def test_a_witness_is_answered_while_server_passwords_are_checked(tmp_path: Path) -> None:
    async with ChatServer(server_config(tmp_path / "d", password_hash=hash_password("pw"))) as srv:
        async with ClientSession(*srv.address, "witness", password="pw") as witness:
            conns = [await raw_open(*srv.address) for _ in range(FLOOD)]
            hellos = [await signed_hello(r, w, f"f{i}", password="pw") for i, (r, w) in enumerate(conns)]
            for (_, w), hello in zip(conns, hellos, strict=True):
                w.write(hello)  # all at once
            events: list[str] = []
            started = asyncio.Event()
            welcomed = 0

            async def welcome(reader: asyncio.StreamReader) -> None:
                nonlocal welcomed
                dec = p.client_decoder()
                while True:
                    data = await reader.read(1 << 16)
                    assert data, "the server closed a flood connection"
                    if any(isinstance(m, p.Welcome) for m in dec.feed(data)):
                        break
                started.set()
                welcomed += 1
                if welcomed == FLOOD:
                    events.append("flood answered")

            flood = [asyncio.ensure_future(welcome(r)) for r, _ in conns]
            async with asyncio.timeout(60):
                await started.wait()
                for _ in range(PINGS):
                    await witness.ping()
                    events.append("ping")
                await asyncio.gather(*flood)
            for _, w in conns:
                w.close()
            assert events.index("flood answered") == PINGS, events
