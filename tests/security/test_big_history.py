"""Issue 16 (2): one member could make a room unjoinable for everyone, for good.

Eleven messages of 8,000 four-byte "😀" (each within MAX_TEXT) made the Joined frame 353 KB,
over MAX_FRAME: JoinRoom, GetHistory, search, `pyrtc tail`, `pyrtc send` and the terminal
client failed for everyone. 12,000 distinct reaction "emoji" on one message (any string of
up to 16 characters was taken) did the same. Now every page is cut to fit one frame (the
newest kept, `more` set), a message carries its reactions capped, and a reaction must be one
real emoji within per-message limits.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pyrtc.protocol as p
from pyrtc.client import ClientSession
from pyrtc.protocol.limits import MAX_FRAME, MAX_REACTION_KINDS, MAX_REACTION_NAMES, MAX_TEXT
from pyrtc.server import ChatServer
from pyrtc.store import Store

from ..conftest import ClientFactory, FakeClock, server_config
from .raw import RawClient

HUGE = "boom " + "😀" * (MAX_TEXT - 5)  # 8,000 characters, 31,985 bytes
EMOJI = "😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗🤩🤔🤨😐😑"


async def pyrtc(*args: str) -> tuple[int, str, str]:
    """The real `pyrtc` command, in its own process (this loop keeps serving meanwhile)."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "pyrtc", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_eleven_huge_messages_leave_the_room_joinable(server: ChatServer, connect: ClientFactory) -> None:
    ann = await connect("ann")
    await ann.join("General")
    for _ in range(11):
        await ann.send("General", HUGE)
    bob = await connect("bob")
    view = await bob.join("General")  # the join page fits: the oldest that do not are left out
    assert 0 < len(view.messages) < 11 and view.messages[-1].seq == 11 and view.more_before
    while view.more_before:
        assert await bob.load_older("General")
    assert [m.seq for m in view.messages] == list(range(1, 12)) and {m.text for m in view.messages} == {HUGE}
    page = await bob.history("General", limit=500)
    assert page.more and page.messages and page.messages[-1].seq == 11
    hits = await bob.search("General", "boom")
    assert 0 < len(hits) < 11 and hits[0].seq == 11
    # The command line: a room's whole history, the recent page, and sending, all still work.
    address = "{}:{}".format(*server.address)
    code, out, err = await pyrtc("tail", "--server", address, "--room", "General", "--json", "--since", "0")
    assert code == 0, err
    assert [json.loads(line)["seq"] for line in out.splitlines()] == list(range(1, 12))
    code, out, err = await pyrtc("tail", "--server", address, "--room", "General", "--json")
    assert code == 0, err
    assert [json.loads(line)["seq"] for line in out.splitlines()] == list(range(1, 12))
    code, _, err = await pyrtc("send", "--server", address, "--room", "General", "--name", "cli", "after")
    assert code == 0, err
    await bob.wait_for(lambda s: s.rooms["General"].last_seq == 12)


async def test_reactions_must_be_real_emoji_within_limits(tmp_path: Path, clock: FakeClock) -> None:
    async with ChatServer(server_config(tmp_path / "d", max_reactions=25), clock=clock) as srv:
        async with ClientSession(*srv.address, "ann") as ann:
            await ann.join("General")
            seq = await ann.send("General", "react to me")
        mallory = await RawClient.open(srv.address, "mallory", "General")
        mallory.send(p.React(room="General", seq=seq, emoji="not an emoji"),
                     p.React(room="General", seq=seq, emoji="x"),
                     *(p.React(room="General", seq=seq, emoji=e) for e in EMOJI))
        await mallory.drained()
        assert [e.code for e in mallory.errors()[:2]] == ["bad_emoji", "bad_emoji"]
        assert "one emoji" in mallory.errors()[0].message
        # Distinct emoji on one message: MAX_REACTION_KINDS.
        assert len(mallory.of("Reacted")) == MAX_REACTION_KINDS
        kinds = mallory.errors()[2:]
        assert [e.code for e in kinds] == ["reaction_limit"] * (len(EMOJI) - MAX_REACTION_KINDS)
        assert f"{MAX_REACTION_KINDS} different reactions" in kinds[0].message
        # Reactions on one message in all, whoever reacts: max_reactions (25).
        others = [await RawClient.open(srv.address, f"u{i}", "General") for i in range(7)]
        for raw in others:
            raw.send(p.React(room="General", seq=seq, emoji="😀"))
            await raw.drained()
        assert [bool(r.errors("reaction_limit")) for r in others] == [False] * 5 + [True] * 2
        for raw in (mallory, *others):
            raw.abort()


async def test_reactions_stored_before_the_limits_do_not_break_the_room(tmp_path: Path) -> None:
    data = tmp_path / "d"
    store = Store(data / "history.db")
    seq = store.append("General", "ann", "hello").seq
    store.begin()
    for i in range(12_000):  # what the attack left: any string of up to 16 characters
        store.set_reaction("General", seq, f"{'z' * 10}{i:06d}", "mallory", True)
    for i in range(30):
        store.set_reaction("General", seq, "👍", f"fan{i:02d}", True)
    store.commit()
    store.close()
    async with ChatServer(server_config(data)) as srv:
        bob = await RawClient.open(srv.address, "bob", "General")
        [joined] = bob.of("Joined")
        assert max(bob.sizes) <= MAX_FRAME
        [msg] = joined.history  # type: ignore[attr-defined]
        assert len(msg.reactions) == MAX_REACTION_KINDS
        top = msg.reactions[0]
        assert top.emoji == "👍" and top.count == 30 and len(top.members) == MAX_REACTION_NAMES
        async with ClientSession(*srv.address, "carol") as carol:
            view = await carol.join("General")
            assert view.messages[0].reaction_count("👍") == 30
            async with ClientSession(*srv.address, "fan00") as fan:  # taking one back still works
                await fan.join("General")
                await fan.react("General", seq, "👍", on=False)
            await carol.wait_for(lambda s: s.rooms["General"].messages[0].reaction_count("👍") == 29)
        bob.abort()


async def test_thousands_joining_at_once_reach_members_in_frames_that_fit(server: ChatServer) -> None:
    witness = await RawClient.open(server.address, "witness", "General")
    live = server.bus.room("General")
    names = [f"{i:04d}" + "😀" * 28 for i in range(4000)]  # 32 characters, 116 bytes each
    for name in names:  # as thousands of joins inside one flush window leave it
        live.joined[name] = (0, 0, 0)
    server._presence.room_changed("General")
    seen: set[str] = set()

    def all_seen(m: p.ServerMsg) -> bool:
        if isinstance(m, p.MembersChanged):
            seen.update(x.name for x in m.joined)
        return set(names) <= seen

    await witness.until(all_seen)
    assert max(witness.sizes) <= MAX_FRAME
    witness.abort()
