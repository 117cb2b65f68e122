"""What members see of each other across the servers of one chat: members, receipts, typing,
reactions, locked rooms."""

from __future__ import annotations

from pyrtc.client.errors import Rejected
from pyrtc.protocol.codes import ErrorCode

from ..conftest import ClientFactory
from .conftest import ServerFactory


async def test_receipts_and_members_cross_servers(chat_server: ServerFactory, connect: ClientFactory) -> None:
    a, b = await chat_server("a"), await chat_server("b")
    ann, bob = await connect("ann", a), await connect("bob", b, auto_delivered=False)
    await ann.join("General")
    await bob.join("General")
    await ann.wait_for(lambda s: "bob" in s.rooms["General"].members, timeout=30)  # bob joined through B
    seq = await ann.send("General", "did you get this?")
    msg = ann.state.rooms["General"].by_seq[seq]
    assert ann.state.status(msg) == "sent"
    await bob.wait_for(lambda s: seq in s.rooms["General"].by_seq, timeout=30)
    await bob.mark_delivered("General", seq)
    await ann.wait_for(lambda s: s.status(msg) == "delivered", timeout=30)  # ✓✓ from a reader on B
    await bob.mark_read("General", seq)
    await ann.wait_for(lambda s: s.status(msg) == "read", timeout=30)
    assert ann.state.read_by(msg) == ["bob"]


async def test_typing_crosses_servers_and_stops(chat_server: ServerFactory, connect: ClientFactory) -> None:
    a, b = await chat_server("a"), await chat_server("b")
    ann, bob = await connect("ann", a), await connect("bob", b)
    await ann.join("General")
    await bob.join("General")
    await bob.wait_for(lambda s: "ann" in s.rooms["General"].members, timeout=30)
    await ann.set_typing("General", True)
    await bob.wait_for(lambda s: "ann" in s.rooms["General"].typing, timeout=30)
    await ann.set_typing("General", False)
    await bob.wait_for(lambda s: "ann" not in s.rooms["General"].typing, timeout=30)


async def test_reactions_cross_servers(chat_server: ServerFactory, connect: ClientFactory) -> None:
    a, b = await chat_server("a"), await chat_server("b")
    ann, bob = await connect("ann", a), await connect("bob", b)
    await ann.join("General")
    await bob.join("General")
    seq = await ann.send("General", "lunch?")
    await bob.wait_for(lambda s: seq in s.rooms["General"].by_seq, timeout=30)
    await bob.react("General", seq, "👍")
    await ann.wait_for(lambda s: "bob" in s.rooms["General"].by_seq[seq].reactions.get("👍", set()), timeout=30)
    assert a.store.reaction_counts("General", seq) == b.store.reaction_counts("General", seq) == {"👍": 1}


async def test_a_locked_room_made_on_one_server_asks_its_password_on_another(
        chat_server: ServerFactory, connect: ClientFactory) -> None:
    a, b = await chat_server("a"), await chat_server("b")
    ann, bob = await connect("ann", a), await connect("bob", b)
    await ann.create_room("Staff", password="s3cret pass")
    await bob.wait_for(lambda s: any(r.name == "Staff" and r.locked for r in s.available), timeout=30)
    try:
        await bob.join("Staff", password="wrong")
        raise AssertionError("joined a locked room with a wrong password")
    except Rejected as exc:
        assert exc.code == ErrorCode.WRONG_PASSWORD
    await bob.join("Staff", password="s3cret pass")
    seq = await bob.send("Staff", "in")
    await ann.wait_for(lambda s: seq in s.rooms["Staff"].by_seq, timeout=30)


async def test_members_online_through_another_server_show_online_and_go_offline(
        chat_server: ServerFactory, connect: ClientFactory) -> None:
    a, b = await chat_server("a"), await chat_server("b")
    ann, bob = await connect("ann", a), await connect("bob", b)
    await bob.join("General")
    await ann.join("General")

    def online(s: object, name: str) -> bool:
        m = s.rooms["General"].members.get(name)  # type: ignore[attr-defined]
        return m is not None and m.online

    await ann.wait_for(lambda s: online(s, "bob"), timeout=30)  # bob listens through B
    await bob.wait_for(lambda s: online(s, "ann"), timeout=30)
    cy = await connect("cy", a)
    await cy.join("General")
    assert online(cy.state, "bob")  # the member page of a join already says so
    await b.close()  # bob's server goes: ann sees bob offline (B said goodbye)
    await ann.wait_for(lambda s: not online(s, "bob"), timeout=30)
    assert online(ann.state, "cy")
