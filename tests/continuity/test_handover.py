"""The chat outlives its host, in one process on 127.0.0.1: a planned quit hands it to the
roster's successor, a vanished host is replaced by it; nothing acknowledged is lost, nothing
doubled, every peer ends with the same history (same seq, same message)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pyrtc.client import ClientSession, Identity, Rejected
from pyrtc.discovery import AnnouncedServer
from pyrtc.discovery.continuity import Continuity
from pyrtc.discovery.peers import PeerReport
from tests.conftest import server_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Peer:
    name: str
    session: ClientSession
    continuity: Continuity
    lines: list[str]

    def history(self, room: str = "General") -> list[tuple[int, str, str]]:
        return [(m.seq, m.sender, m.text) for m in self.session.state.rooms[room].messages if m.seq]


async def make_peer(name: str, tmp: Path, host: AnnouncedServer | None = None, identity: Identity | None = None,
                    address: tuple[str, int] | None = None) -> Peer:
    me = identity or Identity.generate()
    port = host.server.address[1] if host else free_port()
    where = address or ("127.0.0.1", port)
    session = ClientSession(*where, name, identity=me, backoff=(0.05, 0.5))
    root = tmp / name / "chats"
    session.keep_replica(root)
    session.peer = PeerReport(me.uid, name, ["127.0.0.1"], port, root=root)
    lines: list[str] = []
    cont = Continuity(session, name=name, can_host=True, port=port, announce=None, on_line=lines.append,
                      hosted=host, root=root)
    session.on_event = cont.on_event
    await session.connect()
    return Peer(name, session, cont, lines)


async def vanish(host: Peer) -> None:
    """The host is gone without a word (a crash, a cable): no hand-over, no goodbye."""
    hosted = host.continuity.hosted
    assert hosted is not None
    host.continuity.hosted = None
    host.continuity.closing = True
    await host.session.close()
    await hosted.server.close()


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[list[Peer]]:
    ids = sorted((Identity.generate() for _ in range(3)), key=lambda i: i.uid)
    # Ann hosts; of the others the lower node id (bob) is the successor by the rule.
    ann_id, bob_id, cy_id = ids[2], ids[0], ids[1]
    cfg = server_config(tmp_path / "ann" / "server", node=ann_id.uid, port=free_port(), addresses=["127.0.0.1"])
    hosted = AnnouncedServer(cfg, None)
    await hosted.start()
    ann = await make_peer("ann", tmp_path, hosted, ann_id)
    bob = await make_peer("bob", tmp_path, identity=bob_id, address=hosted.server.address)
    cy = await make_peer("cy", tmp_path, identity=cy_id, address=hosted.server.address)
    peers = [ann, bob, cy]
    for p in peers:
        await p.session.join("General")
    await ann.session.wait_for(lambda s: s.roster is not None and len(s.roster.peers) == 3, timeout=10)
    yield peers
    for p in peers:
        p.continuity.closing = True
        await p.session.close()
        if p.continuity.hosted is not None:
            await p.continuity.hosted.close()


async def test_a_planned_quit_hands_the_chat_to_the_successor_with_everything(chat: list[Peer]) -> None:
    ann, bob, cy = chat
    for i in range(5):
        await ann.session.send("General", f"ann {i}")
        await cy.session.send("General", f"cy {i}")
    await ann.continuity.quit()
    await ann.session.close()
    assert bob.continuity.hosted is not None and cy.continuity.hosted is None
    await cy.session.wait_for(lambda s: s.host == bob.session.identity.uid and s.connection == "connected",
                              timeout=10)
    seq = await cy.session.send("General", "after the handover")
    for p in (bob, cy):
        await p.session.wait_for(lambda s: seq in s.rooms["General"].by_seq, timeout=10)
    assert bob.history() == cy.history()
    texts = [t for _, _, t in bob.history()]
    assert sorted(texts) == sorted([f"ann {i}" for i in range(5)] + [f"cy {i}" for i in range(5)]
                                   + ["after the handover"])
    assert [s for s, _, _ in bob.history()] == list(range(1, 12))
    assert cy.lines == ["ann left; bob is hosting this chat now"]
    assert bob.lines == ["ann left; you are hosting this chat now"]
    assert bob.continuity.hosted.server.epoch == 2


async def test_a_vanished_host_is_replaced_and_every_acknowledged_message_kept(chat: list[Peer]) -> None:
    ann, bob, cy = chat
    acked = [await cy.session.send("General", f"cy {i}") for i in range(5)]
    acked += [await bob.session.send("General", f"bob {i}") for i in range(3)]
    await cy.session.wait_for(lambda s: acked[-1] in s.rooms["General"].by_seq)
    # The host vanishes without a word: no hand-over, no goodbye.
    await vanish(ann)
    sending = asyncio.ensure_future(cy.session.send("General", "sent during the change", timeout=30))
    seq = await sending
    for p in (bob, cy):
        await p.session.wait_for(lambda s: seq in s.rooms["General"].by_seq, timeout=15)
    assert bob.continuity.hosted is not None and bob.continuity.hosted.server.epoch == 2
    assert bob.history() == cy.history()
    assert sorted(t for _, _, t in bob.history()) == sorted(
        [f"cy {i}" for i in range(5)] + [f"bob {i}" for i in range(3)] + ["sent during the change"])
    assert [s for s, _, _ in bob.history()] == list(range(1, 10))


async def test_a_direct_conversation_stays_its_two_members_alone_across_a_host_change(chat: list[Peer]) -> None:
    """A new host serves a direct conversation's history to its two members, and to nobody
    else: its copies come with their pair, which must be the one the room's name was made
    from (pushed without one, it was a room nobody, not even its members, could open)."""
    ann, bob, cy = chat
    direct = (await ann.session.open_direct("cy")).name
    await cy.session.join(direct)
    first = await ann.session.send(direct, "only for cy")
    await cy.session.wait_for(lambda s: first in s.rooms[direct].by_seq)
    acked = await cy.session.send("General", "for everyone")
    # The host vanishes: every peer pushes what it holds to the successor (bob).
    await vanish(ann)
    seq = await cy.session.send("General", "after the change", timeout=30)
    await bob.session.wait_for(lambda s: seq in s.rooms["General"].by_seq, timeout=15)
    assert bob.continuity.hosted is not None
    store = bob.continuity.hosted.server.store
    assert [(m.seq, m.text) for m in store.history("General", after=0, limit=10)[0]] == [
        (acked, "for everyone"), (seq, "after the change")]
    assert sorted(store.direct_pair(direct) or ()) == sorted([ann.session.identity.uid, cy.session.identity.uid])
    with pytest.raises(Rejected, match="direct conversation"):
        await bob.session.join(direct)  # the new host itself is not let in
    with pytest.raises(Rejected, match="needs its two members"):  # a pair its name was not made from
        await cy.session.replicate("@" + "0" * 24, [], pair=[(cy.session.identity.uid, "cy"),
                                                             (bob.session.identity.uid, "bob")])
    await cy.session.join(direct)  # refused while its copies were on their way: joined again
    reply = await cy.session.send(direct, "still here", timeout=30)
    assert reply == first + 1  # the same numbering: the old message kept its seq
    assert [(m.seq, m.text) for m in store.history(direct, after=0, limit=10)[0]] == [
        (first, "only for cy"), (reply, "still here")]



async def test_a_planned_quit_hands_on_reactions_and_receipts_the_successor_never_saw(chat: list[Peer]) -> None:
    """Bob (the successor) is not in Side: what happened there reaches him only through the
    leaving host's push; the messages did, and now the reactions and receipts do too."""
    ann, bob, cy = chat
    await ann.session.create_room("Side")
    await cy.session.join("Side")
    seq = await ann.session.send("Side", "for the side room")
    await cy.session.wait_for(lambda s: seq in s.rooms["Side"].by_seq)
    await cy.session.react("Side", seq, "👍")
    await cy.session.mark_read("Side", seq)
    store = ann.continuity.hosted.server.store  # type: ignore[union-attr]
    await ann.session.wait_for(lambda s: "cy" in s.rooms["Side"].by_seq[seq].reactions.get("👍", set()))
    while not any(m.name == "cy" and m.read == seq for m in store.members("Side")):
        await asyncio.sleep(0.02)  # receipts are paced: stored once they arrive
    await ann.continuity.quit()
    await ann.session.close()
    assert bob.continuity.hosted is not None
    new = bob.continuity.hosted.server.store
    await cy.session.wait_for(lambda s: s.host == bob.session.identity.uid and s.connection == "connected",
                              timeout=10)
    await bob.session.join("Side")  # what anyone joining the room sees from the new host
    view = bob.session.state.rooms["Side"]
    assert view.by_seq[seq].text == "for the side room"
    assert view.by_seq[seq].reactions.get("👍") == {"cy"}
    assert new.reaction_counts("Side", seq) == {"👍": 1}
    assert any(m.name == "cy" and m.read == seq for m in new.members("Side"))


async def test_a_room_only_the_leaving_host_was_in_reaches_the_successor_whole(chat: list[Peer]) -> None:
    """More messages than one page of the store (100), in a room nobody else joined: the
    push pages back through all of them (it once stopped after the newest page)."""
    ann, bob, cy = chat
    await ann.session.create_room("Long")
    for i in range(250):
        await ann.session.send("Long", f"long {i}")
    await ann.continuity.quit()
    await ann.session.close()
    assert bob.continuity.hosted is not None
    held, more = bob.continuity.hosted.server.store.history("Long", limit=1000)
    assert [(m.seq, m.text) for m in held] == [(i + 1, f"long {i}") for i in range(250)] and not more


async def test_edits_deletes_and_replies_outlive_a_host_that_vanished(chat: list[Peer]) -> None:
    """The successor serves its own copy: a deleted message must not come back with it, nor an
    edit be undone, nor a reply lose what it answers."""
    ann, bob, cy = chat
    secret = await cy.session.send("General", "the door code is 4711")
    typo = await cy.session.send("General", "teh plan")
    answer = await ann.session.send("General", "which plan?", reply_to=typo)
    await cy.session.edit("General", typo, "the plan")
    await cy.session.delete("General", secret)
    await bob.session.wait_for(lambda s: s.rooms["General"].by_seq[secret].deleted
                               and s.rooms["General"].by_seq[typo].text == "the plan", timeout=10)
    await vanish(ann)
    after = await cy.session.send("General", "after the change", timeout=30)
    await bob.session.wait_for(lambda s: after in s.rooms["General"].by_seq, timeout=15)
    assert bob.continuity.hosted is not None
    async with ClientSession(*bob.continuity.hosted.server.address, "dave", identity=Identity.generate()) as dave:
        await dave.join("General")
        held = dave.state.rooms["General"].by_seq
        assert held[secret].deleted and held[secret].text == ""
        assert (held[typo].text, held[typo].edited > 0) == ("the plan", True)
        assert (held[answer].reply_to, held[answer].quote, held[answer].quote_sender) == (typo, "the plan", "cy")


async def test_a_returning_peer_finds_its_rooms_on_the_new_host(chat: list[Peer], tmp_path: Path) -> None:
    """The new host knows its members from copies (no identity on them): the rooms a name was
    in are still that user's when it comes back, as the window rejoins them."""
    ann, bob, cy = chat
    await ann.session.create_room("Project")
    await bob.session.join("Project")
    await bob.session.wait_for(lambda s: "ann" in s.rooms["Project"].members, timeout=10)
    await vanish(ann)
    await cy.session.send("General", "after the change", timeout=30)
    assert bob.continuity.hosted is not None
    again = ClientSession(*bob.continuity.hosted.server.address, "ann", identity=ann.session.identity)
    async with again:
        assert sorted(again.state.joined_rooms) == ["General", "Project"]
