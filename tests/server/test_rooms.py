"""Several clients in several rooms: each room's history and member list stay separate."""

from __future__ import annotations

import pytest

from pyrtc.client import Rejected
from pyrtc.server import ChatServer

from ..conftest import ClientFactory, texts


async def test_rooms_keep_their_own_history_and_members(server: ChatServer, connect: ClientFactory) -> None:
    ann, bob, cy, dee = [await connect(n) for n in ("ann", "bob", "cy", "dee")]
    for s in (ann, bob):
        await s.join("General")
    for s in (cy, dee):
        await s.join("Gaming")
    await bob.join("Study")
    await cy.join("Study")

    await ann.send("General", "general talk")
    await cy.send("Gaming", "gaming talk")
    await bob.send("Study", "study talk")

    await bob.wait_for(lambda s: texts(bob, "General") == ["general talk"]
                       and texts(bob, "Study") == ["study talk"])
    await dee.wait_for(lambda s: texts(dee, "Gaming") == ["gaming talk"])
    await cy.wait_for(lambda s: texts(cy, "Study") == ["study talk"])
    assert "General" not in dee.state.rooms and "Gaming" not in ann.state.rooms
    assert texts(ann, "General") == ["general talk"]

    # Member changes arrive coalesced (within ~50 ms): wait for them, then compare.
    want = {"General": {"ann", "bob"}, "Study": {"bob", "cy"}}
    await bob.wait_for(lambda s: {r: set(v.members) for r, v in s.rooms.items()} == want)
    await dee.wait_for(lambda s: set(s.rooms["Gaming"].members) == {"cy", "dee"})

    # The server's own view matches, room by room.
    assert {m.name for m in server.store.members("Gaming")} == {"cy", "dee"}
    assert [m.text for m in server.store.history("Study")[0]] == ["study talk"]


async def test_member_list_follows_join_and_leave(connect: ClientFactory) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await ann.join("General")
    await bob.join("General")
    await ann.wait_for(lambda s: s.rooms["General"].members.get("bob") is not None
                       and s.rooms["General"].members["bob"].online)
    await bob.leave("General")
    await ann.wait_for(lambda s: "bob" not in s.rooms["General"].members)
    assert "General" not in bob.state.rooms


async def test_joiners_between_flushes_see_every_change(server: ChatServer, connect: ClientFactory) -> None:
    """The member page is built once per flush window; whoever joins inside the window
    still ends up with the room's true member list, leaves included."""
    ann, bob, cy, dee = [await connect(n) for n in ("ann", "bob", "cy", "dee")]
    await ann.join("General")
    await bob.join("General")
    await ann.wait_for(lambda st: "bob" in st.rooms["General"].members)  # a flush went out
    await cy.join("General")  # builds the page (with bob) and opens a new window
    await bob.leave("General")  # goes out at once: the page built before must not show bob
    await dee.join("General")  # inside the window
    want = {"ann", "cy", "dee"}
    for s in (ann, cy, dee):
        await s.wait_for(lambda st: set(st.rooms["General"].members) == want, timeout=5)
    assert dee.state.rooms["General"].member_count == 3


async def test_big_room_join_lists_a_bounded_page_and_counts_the_rest(
        server: ChatServer, connect: ClientFactory) -> None:
    from pyrtc.protocol.limits import MAX_JOIN_MEMBERS

    for i in range(MAX_JOIN_MEMBERS + 50):
        server.store.add_member("Study", f"old{i:03d}")
    ann = await connect("ann")
    view = await ann.join("Study")
    assert len(view.members) == MAX_JOIN_MEMBERS and "ann" in view.members  # online first
    assert view.member_count == MAX_JOIN_MEMBERS + 51


async def test_presence_goes_offline_on_disconnect(connect: ClientFactory) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await ann.join("General")
    await bob.join("General")
    await ann.wait_for(lambda s: "bob" in s.rooms["General"].members)
    await bob.close()
    await ann.wait_for(lambda s: not s.rooms["General"].members["bob"].online)
    assert "bob" in ann.state.rooms["General"].members  # still a member, just away


async def test_create_room_is_seen_by_others(connect: ClientFactory) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await ann.create_room("Book club")
    await bob.wait_for(lambda s: any(r.name == "Book club" for r in s.available))
    view = await bob.join("book CLUB")  # names match regardless of case
    assert view.name == "Book club"


async def test_unknown_room_is_a_clear_error(connect: ClientFactory) -> None:
    ann = await connect("ann")
    with pytest.raises(Rejected, match="no room named 'Nope'.*General"):
        await ann.join("Nope")


async def test_posting_without_joining_is_refused(server: ChatServer, connect: ClientFactory) -> None:
    ann = await connect("ann")
    await ann.join("General")
    ann.state.rooms["Gaming"] = type(ann.state.rooms["General"])("Gaming")  # pretend
    with pytest.raises(Rejected, match="join 'Gaming' first"):
        await ann.history("Gaming")


async def test_name_clash_is_refused_clearly(connect: ClientFactory) -> None:
    await connect("Ann")
    with pytest.raises(Rejected, match="in use"):
        await connect("ann")  # same name, other case


async def test_watcher_gets_messages_without_becoming_a_member(connect: ClientFactory) -> None:
    ann, tail = await connect("ann"), await connect("tail-1")
    await ann.join("General")
    await tail.join("General", watch=True)
    await ann.send("General", "seen by a watcher")
    await tail.wait_for(lambda s: texts(tail, "General") == ["seen by a watcher"])
    assert "tail-1" not in ann.state.rooms["General"].members
    with pytest.raises(Rejected, match="without being a member"):
        await tail.send("General", "no")
