"""Several servers, one chat, through a real nats-server: seqs decided once, caches caught up."""

from __future__ import annotations

import asyncio

from pyrtc.client.errors import Rejected
from pyrtc.protocol.codes import ErrorCode
from pyrtc.server import ChatServer

from ..conftest import ClientFactory
from .conftest import ServerFactory
from .natsd import NatsServer


def history(srv: ChatServer, room: str = "General") -> list[tuple[int, str, str, str]]:
    """(seq, sender, cid, text) of every message in the server's cache, by seq."""
    messages, more = srv.store.history(room, limit=100_000)
    assert not more
    return [(m.seq, m.sender, m.cid, m.text) for m in messages]


async def test_a_message_sent_through_one_server_is_seen_through_another_with_its_seq(
        chat_server: ServerFactory, connect: ClientFactory) -> None:
    a, b = await chat_server("a"), await chat_server("b")
    ann, bob = await connect("ann", a), await connect("bob", b)
    await ann.join("General")
    await bob.join("General")
    seq = await ann.send("General", "hello from A")
    await bob.wait_for(lambda s: seq in s.rooms["General"].by_seq, timeout=30)
    seen = bob.state.rooms["General"].by_seq[seq]
    assert (seen.sender, seen.text) == ("ann", "hello from A")
    reply = await bob.send("General", "hello from B")
    assert reply == seq + 1
    await ann.wait_for(lambda s: reply in s.rooms["General"].by_seq, timeout=30)
    assert history(a) == history(b) == [(seq, "ann", history(a)[0][2], "hello from A"),
                                         (reply, "bob", history(b)[1][2], "hello from B")]


async def test_two_servers_posting_to_one_room_at_once_never_duplicate_or_skip_a_seq(
        chat_server: ServerFactory, connect: ClientFactory) -> None:
    a, b = await chat_server("a"), await chat_server("b")
    senders = [await connect(name, srv) for name, srv in (("ann", a), ("bob", b), ("cy", a), ("dee", b))]
    for s in senders:
        await s.join("General")
    each = 50

    async def burst(s: object) -> list[int]:
        assert hasattr(s, "send")
        return list(await asyncio.gather(*(s.send("General", f"{s.name} {i}") for i in range(each))))

    acked = await asyncio.gather(*(burst(s) for s in senders))
    total = each * len(senders)
    everyone = sorted(seq for seqs in acked for seq in seqs)
    assert everyone == list(range(1, total + 1))  # every ✓ a different seq, none missing
    for srv in (a, b):
        await wait_applied(srv, total)
    rows_a, rows_b = history(a), history(b)
    assert rows_a == rows_b  # message by message: the same seq, sender, cid and text on both
    assert [r[0] for r in rows_a] == list(range(1, total + 1))
    assert sorted(r[3] for r in rows_a) == sorted(f"{s.name} {i}" for s in senders for i in range(each))
    assert len({(r[1], r[2]) for r in rows_a}) == total  # each (sender, cid) once


async def wait_applied(srv: ChatServer, last_seq: int, room: str = "General") -> None:
    async with asyncio.timeout(30):
        while srv.store.last_seq(room) < last_seq:
            await asyncio.sleep(0.01)


async def test_a_server_starting_late_or_restarting_catches_up_from_the_stream(
        chat_server: ServerFactory, connect: ClientFactory) -> None:
    a, b = await chat_server("a"), await chat_server("b")
    ann = await connect("ann", a)
    await ann.join("General")
    for i in range(20):
        await ann.send("General", f"before {i}")
    await b.close()
    for i in range(20):
        await ann.send("General", f"while b was down {i}")
    late = await chat_server("late")  # start() returns once its cache has the stream
    assert history(late) == history(a)
    b_again = await chat_server("b")  # the same data dir: it resumes after what it applied
    assert history(b_again) == history(a)
    assert [r[0] for r in history(a)] == list(range(1, 41))
    cy = await connect("cy", b_again)
    await cy.join("General")
    assert await cy.send("General", "after") == 41


async def test_a_room_made_through_one_server_exists_on_every_server(
        chat_server: ServerFactory, connect: ClientFactory) -> None:
    a, b = await chat_server("a"), await chat_server("b")
    ann, bob = await connect("ann", a), await connect("bob", b)
    await ann.create_room("Plans")
    await bob.wait_for(lambda s: any(r.name == "Plans" for r in s.available), timeout=30)
    await bob.join("Plans")
    seq = await bob.send("Plans", "first")
    await ann.wait_for(lambda s: seq in s.rooms["Plans"].by_seq, timeout=30)
    assert seq == 1


async def test_nats_down_refuses_posts_keeps_clients_and_recovers_without_loss(
        chat_server: ServerFactory, connect: ClientFactory, nats: NatsServer) -> None:
    a, b = await chat_server("a"), await chat_server("b")
    ann, bob = await connect("ann", a), await connect("bob", b)
    await ann.join("General")
    await bob.join("General")
    for i in range(5):
        await ann.send("General", f"stored {i}")
    await nats.kill()
    async with asyncio.timeout(30):
        while not (a.cluster and a.cluster.degraded):
            await asyncio.sleep(0.02)
    try:
        await ann.send("General", "while NATS is down")
        raise AssertionError("a post was acknowledged while NATS was down")
    except Rejected as exc:
        assert exc.code == ErrorCode.CHAT_DEGRADED and "degraded" in str(exc)
    assert ann.state.connection == bob.state.connection == "connected"  # the clients stay
    assert [m.text for m in (await ann.history("General")).messages] == [f"stored {i}" for i in range(5)]
    await nats.start()  # the same port and store: JetStream comes back with the stream
    async with asyncio.timeout(60):
        while True:  # recovers by itself; the first posts may still meet JetStream starting
            try:
                seq = await ann.send("General", "after NATS returned")
                break
            except Rejected as exc:
                assert exc.code == ErrorCode.CHAT_DEGRADED
                await asyncio.sleep(0.2)
    # 6, unless an attempt NATS stored but did not confirm in time was refused (never the reverse)
    assert seq >= 6
    await bob.wait_for(lambda s: seq in s.rooms["General"].by_seq, timeout=30)
    assert history(a) == history(b)  # the same on both, nothing before the outage lost
    assert [(r[0], r[3]) for r in history(b)][:5] == [(i + 1, f"stored {i}") for i in range(5)]
    assert [r[0] for r in history(b)] == list(range(1, seq + 1)) and history(b)[-1][3] == "after NATS returned"

