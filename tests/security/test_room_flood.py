"""Issue 16 (1): thousands of rooms locked everyone out for good.

The attack: short connections each sending a burst of CreateRoom (inside flood control)
made 4,403 rooms; Welcome listed every room, no longer fit in a frame, and every hello from
then on (also after a restart) got `internal`. Now rooms are limited (in all and per user
and hour), Welcome carries the first page, ListRooms pages the rest, and a new room goes to
others as one small RoomAdded; whatever was stored before, nobody is locked out.
"""

from __future__ import annotations

from pathlib import Path

import pyrtc.protocol as p
from pyrtc.client import ClientSession
from pyrtc.protocol.limits import MAX_FRAME
from pyrtc.server import ChatServer
from pyrtc.store import Store

from ..conftest import FakeClock, server_config
from .raw import RawClient


def seed_rooms(data: Path, n: int) -> None:
    """Rooms as the attack left them: stored before the server starts."""
    store = Store(data / "history.db")
    store.begin()
    for i in range(n):
        store.create_room(f"flood-{i:05d}-{'x' * 20}")
    store.commit()
    store.close()


async def test_thousands_of_stored_rooms_lock_no_one_out(tmp_path: Path) -> None:
    data = tmp_path / "d"
    seed_rooms(data, 5000)
    for restart in range(2):
        async with ChatServer(server_config(data)) as srv:
            async with ClientSession(*srv.address, "ann") as ann:  # hello answered: Welcome fits
                # The client pages the rest of the rooms by itself.
                await ann.wait_for(lambda s: len(s.available) == 5003, timeout=30)
                assert ann.state.rooms_total == 5003
                names = [r.name for r in await ann.list_rooms()]
                assert len(names) == len(set(names)) == 5003
                view = await ann.join("flood-04999-" + "x" * 20)
                assert await ann.send(view.name, "still works") == restart + 1
            raw = await RawClient.open(srv.address, "bob")
            welcome = raw.of("Welcome")[0]
            assert raw.sizes[0] < MAX_FRAME // 4 and len(welcome.rooms) < 5003  # type: ignore[attr-defined]
            raw.abort()


async def test_creating_rooms_stops_at_the_limits_with_clear_errors(tmp_path: Path, clock: FakeClock) -> None:
    cfg = server_config(tmp_path / "d", max_rate=50, burst=200, max_rooms=40, rooms_per_hour=5)
    async with ChatServer(cfg, clock=clock) as srv:
        async with ClientSession(*srv.address, "witness") as witness:
            # The attack: short connections, each one burst of CreateRoom inside flood control.
            for c in range(10):
                raw = await RawClient.open(srv.address, f"mallory{c}")
                raw.send(*(p.CreateRoom(room=f"spam {c} {i}", rid=i + 1) for i in range(50)))
                await raw.drained()
                created = raw.of("RoomList")
                refused = raw.errors()
                assert len(created) + len(refused) == 50
                assert {e.code for e in refused} <= {"room_quota", "room_limit"}
                assert len(created) <= 5
                await raw.hang_up(srv)
            assert srv.store.room_count() == 40  # 3 default rooms and 37 of the attack's
            quota = [e for e in refused if e.code == "room_limit"]
            assert quota and "40 rooms" in quota[0].message and not quota[0].fatal
            # Others saw each new room once, as a small frame, and nobody is locked out.
            await witness.wait_for(lambda s: len(s.available) == 40)
            async with ClientSession(*srv.address, "late") as late:
                await late.wait_for(lambda s: len(s.available) == 40)
                await late.join("General")
            # The quota is per user and hour, kept across connections.
            raw = await RawClient.open(srv.address, "mallory0")
            raw.send(p.CreateRoom(room="one more", rid=1))
            await raw.drained()
            assert [e.code for e in raw.errors()] == ["room_limit"]
            raw.abort()


async def test_per_user_room_quota_refuses_with_its_own_error(tmp_path: Path, clock: FakeClock) -> None:
    cfg = server_config(tmp_path / "d", max_rate=50, burst=200, rooms_per_hour=3)
    async with ChatServer(cfg, clock=clock) as srv:
        raw = await RawClient.open(srv.address, "mallory")
        raw.send(*(p.CreateRoom(room=f"mine {i}", rid=i + 1) for i in range(5)))
        raw.send(p.CreateRoom(room="General", rid=9))  # an existing room costs nothing
        await raw.drained()
        assert [e.code for e in raw.errors()] == ["room_quota", "room_quota"]
        assert "3 per user" in raw.errors()[0].message
        assert len(raw.of("RoomList")) == 4
        raw.abort()


async def test_a_new_room_reaches_others_as_one_small_frame(tmp_path: Path) -> None:
    data = tmp_path / "d"
    seed_rooms(data, 1000)
    async with ChatServer(server_config(data, max_rooms=0)) as srv:
        watcher = await RawClient.open(srv.address, "watcher")
        before = len(watcher.got)
        async with ClientSession(*srv.address, "ann") as ann:
            await ann.create_room("Book club")
        await watcher.until(lambda m: type(m).__name__ == "RoomAdded")
        await watcher.drained()
        news = [(m, size) for m, size in zip(watcher.got[before:], watcher.sizes[before:], strict=True)
                if not isinstance(m, p.Pong)]
        assert [type(m).__name__ for m, _ in news] == ["RoomAdded"]
        assert news[0][1] < 200 and news[0][0].room.name == "Book club"  # type: ignore[attr-defined]
        watcher.abort()

