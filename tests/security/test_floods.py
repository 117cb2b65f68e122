"""Issue 16 (11): typing and join/leave were not rate-limited.

Each attacker frame reached every member, and 700,000 leave/join frames in 25 s rotated an
evidence line out of all six chat.log files. Now every kind of request is metered, the
changes others see (joins, leaves, watches) per user and per address (kept across
reconnects), typing starts per user, and handshakes per address.

The server runs on a fake clock here: no bucket refills while a test runs, so the counts
are exact whatever the machine's speed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyrtc.protocol as p
from pyrtc.client import ClientSession, Identity
from pyrtc.client.state import Connected, Event
from pyrtc.server import ChatServer
from pyrtc.server.meters import RESUME_WINDOW

from ..conftest import FakeClock, server_config
from .raw import RawClient

#: Flood control on, with the per-address limits (every client here is on 127.0.0.1).
LIMITS = dict(max_rate=50, burst=200, max_per_address=64, max_requests=50, request_burst=500,
              max_changes=1, change_burst=20, address_changes=5, address_change_burst=60,
              typing_rate=1, typing_burst=10, hello_rate=2, hello_burst=64)


async def test_typing_flood_reaches_others_only_within_the_limit(tmp_path: Path, clock: FakeClock) -> None:
    async with ChatServer(server_config(tmp_path / "d", **LIMITS), clock=clock) as srv:
        witness = await RawClient.open(srv.address, "witness", "General")
        mallory = await RawClient.open(srv.address, "mallory", "General")
        for _ in range(200):
            mallory.send(p.SetTyping(room="General", typing=True), p.SetTyping(room="General", typing=False))
        await mallory.drained()
        await witness.drained()  # its pong comes after every frame mallory's flood made
        typing = [m for m in witness.of("Typing") if m.name == "mallory"]  # type: ignore[attr-defined]
        assert len(typing) == 2 * 10  # typing_burst starts, each with its stop; of 400 frames
        # An honest typist elsewhere is not affected.
        async with ClientSession(*srv.address, "ann") as ann:
            await ann.join("General")
            await ann.set_typing("General", True)
            await witness.until(lambda m: isinstance(m, p.Typing) and m.name == "ann")
        witness.abort()
        mallory.abort()


async def test_join_leave_flood_is_limited_per_user_and_address(
        tmp_path: Path, clock: FakeClock, chat_lines: list[str]) -> None:
    async with ChatServer(server_config(tmp_path / "d", **LIMITS), clock=clock) as srv:
        witness = await RawClient.open(srv.address, "witness", "General")
        async with ClientSession(*srv.address, "ann") as ann:
            await ann.join("General")
            await ann.send("General", "the evidence")
        flood = [p.LeaveRoom(room="General"), p.JoinRoom(room="General")] * 200
        mallory = await RawClient.open(srv.address, "mallory", "General")
        mallory.send(*flood)
        await mallory.drained()
        # Per user: change_burst joins and leaves (the first join was one), then refused
        # (and once out, a leave is answered "not joined").
        mine = [ln for ln in chat_lines if "name=mallory" in ln and (" join " in ln or " leave " in ln)]
        assert len(mine) == 20 and len(mallory.of("Left")) == 10
        slow = mallory.errors("slow_down")
        assert slow and "joins or leaves a second per user" in slow[0].message and not slow[0].fatal
        assert {e.code for e in mallory.errors()} == {"slow_down", "not_joined"}
        # A new connection under the same name does not start afresh.
        await mallory.hang_up(srv)
        again = await RawClient.open(srv.address, "mallory")
        again.send(p.JoinRoom(room="Gaming"))
        await again.drained()
        assert [e.code for e in again.errors()] == ["slow_down"]
        again.abort()
        # New names from the same address share its limit (address_change_burst in all).
        for i in range(5):
            raw = await RawClient.open(srv.address, f"sock{i}")
            raw.send(p.JoinRoom(room="General"), *flood)
            await raw.drained()
            raw.abort()
        await witness.drained()
        left = witness.of("MemberLeft")
        churn = [ln for ln in chat_lines if " join " in ln or " leave " in ln]
        assert len(churn) <= 60 and len(left) <= 60  # of 2,400 leave/join frames
        assert any("the evidence" in ln for ln in chat_lines)
        witness.abort()


async def test_every_kind_of_request_is_metered(tmp_path: Path, clock: FakeClock) -> None:
    async with ChatServer(server_config(tmp_path / "d", **{**LIMITS, "request_burst": 40}), clock=clock) as srv:
        mallory = await RawClient.open(srv.address, "mallory", "General")
        kinds: list[p.Msg] = [
            p.ListRooms(rid=1), p.GetHistory(room="General", rid=2), p.Search(room="General", query="x", rid=3),
            p.MarkRead(room="General", seq=0), p.MarkDelivered(room="General", seq=0),
            p.SetTyping(room="General", typing=False), p.FetchFile(blob_id="0" * 64, rid=4),
            p.JoinRoom(room="General", rid=5)]
        mallory.send(*(kinds * 20))  # 160 requests; the join already used one token
        await mallory.drained()
        slow = mallory.errors("slow_down")
        assert len(slow) == 160 - 39 and "requests a second" in slow[0].message
        assert {e.rid for e in slow} == {0, 1, 2, 3, 4, 5}  # every kind was cut off, with or without rid
        mallory.abort()


async def test_handshakes_per_address_are_limited(tmp_path: Path, clock: FakeClock, chat_lines: list[str]) -> None:
    async with ChatServer(server_config(tmp_path / "d", **{**LIMITS, "hello_burst": 5}), clock=clock) as srv:
        for i in range(12):
            raw = await RawClient.connected(srv.address)
            await raw.hello(f"cycle{i}")
            if i < 5:
                await raw.drained()
            else:
                await raw.closed_by_server()
                [err] = raw.errors()
                assert err.code == "slow_down" and err.fatal and "too many connections" in err.message
            raw.abort()
        assert sum(" connect " in ln for ln in chat_lines) == 5


async def test_a_reconnect_resumes_every_watch_without_a_change(
        tmp_path: Path, clock: FakeClock, chat_lines: list[str]) -> None:
    """A kiosk watching more rooms than its burst of changes is cut off and reconnects: its
    session watches them all again (a resume), spending no change and logging no second
    watch, and every room still reaches it. Counted as new watches, the resume was refused
    room after room (slow_down) and those rooms stayed silent while it looked connected."""
    rooms = [f"screen {i}" for i in range(25)]
    connects: list[Event] = []
    async with ChatServer(server_config(tmp_path / "d", **{**LIMITS, "rooms_per_hour": 0}), clock=clock) as srv:
        async with ClientSession(*srv.address, "maker", identity=Identity.generate()) as maker, \
                ClientSession(*srv.address, "kiosk", identity=Identity.generate(),
                              on_event=lambda e: connects.append(e) if isinstance(e, Connected) else None) as kiosk:
            for i, room in enumerate(rooms):
                if i == 20:
                    clock.advance(5)  # the burst (20) is spent: five more tokens, for five more
                await maker.create_room(room)
            for i, room in enumerate(rooms):
                if i == 20:
                    clock.advance(5)
                await kiosk.join(room, watch=True)
            next(c for c in srv.conns if c.name == "kiosk").abort()  # a cable pulled
            await kiosk.wait_for(lambda s: len(connects) == 2 and s.connection == "connected", timeout=60)
            for room in rooms:
                await maker.send(room, f"news for {room}")
            # Each room reaches it (live, or in the page of its resumed join); a safety net.
            await kiosk.wait_for(lambda s: all(s.rooms[r].synced == 1 for r in rooms), timeout=60)
    assert sum(" watch " in ln and "name=kiosk" in ln for ln in chat_lines) == len(rooms)


async def test_a_resume_refused_for_pace_is_asked_again(tmp_path: Path, clock: FakeClock) -> None:
    """Back long after its drop (a laptop that slept), the kiosk's watches count again: its
    burst lets 20 of the 25 through and the server says slow_down to the rest. The session
    asks again until each passes; it used to give up, and those rooms stayed silent."""
    rooms = [f"screen {i}" for i in range(25)]
    connects: list[Event] = []
    # No silence check: the fake clock jumps here, and nobody is half-open.
    cfg = server_config(tmp_path / "d", **{**LIMITS, "rooms_per_hour": 0, "heartbeat": 1e9, "idle_timeout": 1e9})
    async with ChatServer(cfg, clock=clock) as srv:
        async with ClientSession(*srv.address, "maker", identity=Identity.generate()) as maker, \
                ClientSession(*srv.address, "kiosk", identity=Identity.generate(), backoff=(5.0, 5.0), idle_timeout=1e9,
                              on_event=lambda e: connects.append(e) if isinstance(e, Connected) else None) as kiosk:
            for i, room in enumerate(rooms):
                if i == 20:
                    clock.advance(5)
                await maker.create_room(room)
            for i, room in enumerate(rooms):
                if i == 20:
                    clock.advance(5)
                await kiosk.join(room, watch=True)
            for room in rooms:
                await maker.send(room, f"news for {room}")
            await kiosk.wait_for(lambda s: all(s.rooms[r].synced == 1 for r in rooms), timeout=60)
            kiosk_conn = next(c for c in srv.conns if c.name == "kiosk")
            kiosk_conn.abort()
            while kiosk_conn in srv.conns:  # gone on the server; the session waits 4-6 s to come back
                await asyncio.sleep(0.01)
            clock.advance(RESUME_WINDOW + 60)  # long gone: its watches count again (20 tokens)
            await kiosk.wait_for(lambda s: len(connects) == 2 and s.connection == "connected", timeout=60)
            for room in rooms:
                await maker.send(room, f"more news for {room}")

            def holds_all() -> bool:
                return all(kiosk.state.rooms[r].synced == 2 for r in rooms)

            async with asyncio.timeout(120):  # a safety net
                while not holds_all():
                    clock.advance(1)  # a token a second for the session's next ask
                    await asyncio.sleep(0.05)
            assert len(connects) == 2  # on that connection, not by coming back once more


async def test_an_honest_session_never_meets_the_limits(tmp_path: Path) -> None:
    """Everything a person does in a session, twice over, with every limit on."""
    async with ChatServer(server_config(tmp_path / "d", **LIMITS)) as srv:
        async with ClientSession(*srv.address, "ann") as ann, ClientSession(*srv.address, "bob") as bob:
            for s in (ann, bob):
                for room in ("General", "Gaming", "Study"):
                    await s.join(room)
            await ann.create_room("Book club")
            await bob.join("Book club")
            for i in range(40):
                await ann.set_typing("General", True)
                seq = await ann.send("General", f"message {i}")
                await bob.react("General", seq, "👍")
                await bob.mark_read("General", seq)
            await ann.history("General", limit=20)
            await ann.search("General", "message")
            assert len(await ann.list_rooms()) == 4
            await ann.leave("Study")
            await ann.join("Study")
            await ann.wait_for(lambda s: s.rooms["General"].messages[-1].reaction_count("👍") == 1)
            assert ann.state.notice == "" and bob.state.notice == ""
