"""Issue 16 (11): typing and join/leave were not rate-limited.

Each attacker frame reached every member, and 700,000 leave/join frames in 25 s rotated an
evidence line out of all six chat.log files. Now every kind of request is metered, the
changes others see (joins, leaves, watches) per user and per address (kept across
reconnects), typing starts per user, and handshakes per address.

The server runs on a fake clock here: no bucket refills while a test runs, so the counts
are exact whatever the machine's speed.
"""

from __future__ import annotations

from pathlib import Path

import pyrtc.protocol as p
from pyrtc.client import ClientSession
from pyrtc.server import ChatServer

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
