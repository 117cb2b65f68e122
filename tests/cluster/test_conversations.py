"""Replies, edits, deletes and names across the servers of one chat (a real nats-server):
what one server does, every server shows, message by message."""

from __future__ import annotations

import asyncio

import pytest

from pyrtc.client import Identity
from pyrtc.client.errors import Rejected
from pyrtc.protocol.codes import ErrorCode
from pyrtc.server import ChatServer
from pyrtc.server.passwords import hash_password

from ..conftest import ClientFactory
from .conftest import ServerFactory
from .natsd import NatsServer


def rows(srv: ChatServer, room: str = "General") -> list[tuple[int, str, str, int, bool]]:
    """(seq, sender, text, reply_to, deleted) of every message in the server's cache."""
    messages, more = srv.store.history(room, limit=10_000)
    assert not more
    return [(m.seq, m.sender, m.text, m.reply_to, m.deleted) for m in messages]


async def test_a_reply_made_on_one_server_quotes_its_message_on_every_server(
        chat_server: ServerFactory, connect: ClientFactory) -> None:
    a, b = await chat_server("a"), await chat_server("b")
    ann, bob = await connect("ann", a), await connect("bob", b)
    await ann.join("General")
    await bob.join("General")
    first = await ann.send("General", "lunch at noon?")
    await bob.wait_for(lambda s: first in s.rooms["General"].by_seq, timeout=30)
    answer = await bob.send("General", "yes", reply_to=first)
    await ann.wait_for(lambda s: answer in s.rooms["General"].by_seq, timeout=30)
    seen = ann.state.rooms["General"].by_seq[answer]
    assert (seen.reply_to, seen.quote_sender, seen.quote) == (first, "ann", "lunch at noon?")
    # A client joining later through the other server gets the quote in its history too.
    cy = await connect("cy", a)
    await cy.join("General")
    again = cy.state.rooms["General"].by_seq[answer]
    assert (again.reply_to, again.quote_sender, again.quote) == (first, "ann", "lunch at noon?")
    assert rows(a) == rows(b) == [(first, "ann", "lunch at noon?", 0, False), (answer, "bob", "yes", first, False)]


async def test_an_edit_or_delete_made_on_one_server_shows_on_every_server(
        chat_server: ServerFactory, connect: ClientFactory) -> None:
    a, b = await chat_server("a"), await chat_server("b")
    ann, bob = await connect("ann", a), await connect("bob", b)
    await ann.join("General")
    await bob.join("General")
    one = await ann.send("General", "meet at 5")
    two = await ann.send("General", "bring snacks")
    await bob.wait_for(lambda s: two in s.rooms["General"].by_seq, timeout=30)

    await ann.edit("General", one, "meet at 6")  # returns once stored
    await bob.wait_for(lambda s: s.rooms["General"].by_seq[one].text == "meet at 6", timeout=30)
    assert bob.state.rooms["General"].by_seq[one].edited > 0
    await ann.delete("General", two)
    await bob.wait_for(lambda s: s.rooms["General"].by_seq[two].deleted, timeout=30)
    assert rows(a) == rows(b) == [(one, "ann", "meet at 6", 0, False), (two, "ann", "", 0, True)]
    # The same "edited" time everywhere: decided once, by the server that took the change.
    assert [m.edited for m in a.store.history("General")[0]] == [m.edited for m in b.store.history("General")[0]]

    # Only its sender's identity may change a message, on any server.
    with pytest.raises(Rejected) as refused:
        await bob.edit("General", one, "meet never")
    assert refused.value.code == ErrorCode.NOT_YOURS
    # A client coming back through the other server is told the changes it missed.
    cy = await connect("cy", b)
    await cy.join("General")
    seen = cy.state.rooms["General"].by_seq
    assert (seen[one].text, seen[two].deleted) == ("meet at 6", True)


async def test_a_password_server_of_a_chat_binds_a_new_name_for_the_chat_after_the_password(
        chat_server: ServerFactory, connect: ClientFactory) -> None:
    # Two waits in one hello: the password check off the loop, then the chat's name binding.
    a = await chat_server("a", password_hash=hash_password("letmein"))
    b = await chat_server("b")
    ann = await connect("ann", a, password="letmein")
    await ann.join("General")
    with pytest.raises(Rejected) as taken:
        await connect("ann", b, identity=Identity.generate())
    assert taken.value.code == ErrorCode.NAME_TAKEN


async def test_while_nats_is_down_a_known_name_is_admitted_and_a_new_one_refused_clearly(
        chat_server: ServerFactory, connect: ClientFactory, nats: NatsServer) -> None:
    a = await chat_server("a")
    ann_id = Identity.generate()
    ann = await connect("ann", a, identity=ann_id)
    await ann.close()
    await nats.kill()
    async with asyncio.timeout(30):
        while not (a.cluster and a.cluster.degraded):
            await asyncio.sleep(0.02)
    back = await connect("ann", a, identity=ann_id)  # bound before: checked in the cache
    assert back.state.me == "ann"
    with pytest.raises(Rejected) as new:
        await connect("zoe", a)
    assert new.value.code == ErrorCode.CHAT_DEGRADED and "degraded" in str(new.value), new.value
    with pytest.raises(Rejected) as room:  # nor a room the other servers cannot learn of
        await back.create_room("Plans")
    assert room.value.code == ErrorCode.CHAT_DEGRADED and "degraded" in str(room.value), room.value
    await nats.start()
    async with asyncio.timeout(60):
        while True:  # recovers by itself
            try:
                zoe = await connect("zoe", a)
                break
            except Rejected as exc:
                assert exc.code == ErrorCode.CHAT_DEGRADED, exc
                await asyncio.sleep(0.2)
    assert zoe.state.me == "zoe"
