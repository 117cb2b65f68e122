"""Server and room passwords: hashed with scrypt, checked, and slow to guess."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pyrtc.client import ClientSession, Identity, Rejected
from pyrtc.client.events import Connected, Event
from pyrtc.server import ChatServer
from pyrtc.server.passwords import Backoff, check_password, hash_password

from ..conftest import FakeClock, server_config


def test_hash_is_salted_scrypt_and_checks() -> None:
    a, b = hash_password("s3cret"), hash_password("s3cret")
    assert a != b and a.startswith("scrypt$") and "s3cret" not in a
    assert check_password("s3cret", a) and not check_password("S3cret", a)
    assert not check_password("x", "garbage") and not check_password("x", "md5$1$2$3$00$00")


def test_backoff_doubles_and_forgets(clock: FakeClock) -> None:
    b = Backoff(clock)
    assert [b.failed("10.0.0.9") for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert b.failed("10.0.0.8") == 0.5  # per address
    b.succeeded("10.0.0.9")
    assert b.failed("10.0.0.9") == 0.5
    clock.advance(3601)
    assert b.failed("10.0.0.8") == 0.5  # an hour later: forgotten


async def test_server_password(tmp_path: Path) -> None:
    cfg = server_config(tmp_path / "d", password_hash=hash_password("letmein"))
    async with ChatServer(cfg) as srv:
        host, port = srv.address
        no = ClientSession(host, port, "ann")
        with pytest.raises(Rejected, match="needs a password"):
            await no.connect()
        await no.close()
        wrong = ClientSession(host, port, "ann", password="guess")
        t0 = time.monotonic()
        with pytest.raises(Rejected, match="not it"):
            await wrong.connect()
        assert time.monotonic() - t0 >= 0.9  # second failure from this address: held 1 s
        await wrong.close()
        async with ClientSession(host, port, "ann", password="letmein") as ok:
            await ok.join("General")
            assert await ok.send("General", "in") == 1


async def test_room_password_for_newcomers_only(tmp_path: Path) -> None:
    async with ChatServer(server_config(tmp_path / "d")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "ann") as ann, ClientSession(host, port, "bob") as bob:
            await ann.create_room("Board", password="quarterly")
            await ann.send("Board", "numbers")
            with pytest.raises(Rejected, match="'Board' needs its password"):
                await bob.join("Board")
            with pytest.raises(Rejected, match="not it"):
                await bob.join("Board", password="nope")
            view = await bob.join("Board", password="quarterly")
            assert [m.text for m in view.messages] == ["numbers"]
            await bob.join("General")  # the wrong tries cost bob only time: still connected
            assert await bob.send("General", "still here") == 1
        assert "quarterly" not in (tmp_path / "d" / "history.db").read_bytes().decode("latin-1")
        async with ClientSession(host, port, "ann") as ann:  # a member needs no password again
            await ann.join("Board")


@pytest.mark.parametrize("how", ["watch", "visit"])
async def test_a_watcher_of_a_locked_room_keeps_it_across_a_reconnect(tmp_path: Path, how: str) -> None:
    """A watcher (or visitor) is never a member, so the server asks its password again on
    every join, the resume's too. The session resends the one it joined with; it used to
    rejoin without it, was refused, and the room fell silent while the session looked
    connected."""
    connects: list[Event] = []
    async with ChatServer(server_config(tmp_path / "d")) as srv:
        async with ClientSession(*srv.address, "ann", identity=Identity.generate()) as ann, \
                ClientSession(*srv.address, "kiosk", identity=Identity.generate(),
                              on_event=lambda e: connects.append(e) if isinstance(e, Connected) else None) as kiosk:
            await ann.create_room("Board", password="quarterly")
            await kiosk.join("Board", password="quarterly", watch=how == "watch", visit=how == "visit")
            await ann.send("Board", "before")
            await kiosk.wait_for(lambda s: [m.text for m in s.rooms["Board"].messages] == ["before"])
            next(c for c in srv.conns if c.name == "kiosk").abort()  # a cable pulled
            await kiosk.wait_for(lambda s: len(connects) == 2 and s.connection == "connected", timeout=60)
            await ann.send("Board", "after")
            # Live, or in the page of the resumed join: either way only if the rejoin passed.
            await kiosk.wait_for(lambda s: "Board" in s.rooms
                                 and [m.text for m in s.rooms["Board"].messages] == ["before", "after"],
                                 timeout=30)
            assert "password" not in (kiosk.state.notice or "")
            assert not srv.store.is_member("Board", "kiosk", next(c.uid for c in srv.conns if c.name == "kiosk"))
