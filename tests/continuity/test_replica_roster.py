"""Peer-assisted continuity, in one process: the chat's id, epoch and host in the greeting,
the roster of host-capable peers, and each full client's replica of the rooms it joined."""

from __future__ import annotations

from pathlib import Path

import pyrtc.protocol as p
from pyrtc.client import ClientSession, Identity
from pyrtc.server import ChatServer
from pyrtc.store import Store
from tests.conftest import ClientFactory, server_config


async def test_a_dedicated_server_lists_no_peer_that_could_take_its_chat(
        server: ChatServer, connect: ClientFactory) -> None:
    host, port = server.address
    bob = ClientSession(host, port, "bob", identity=Identity.generate())
    bob.peer = p.PeerInfo(node="b" * 32, name="bob")
    await bob.connect()
    try:
        await bob.wait_for(lambda s: s.roster is not None)
        assert bob.state.roster is not None and [i.node for i in bob.state.roster.peers] == [server.server_id]
    finally:
        await bob.close()


async def test_the_greeting_says_chat_epoch_and_host_and_the_roster_lists_host_capable_peers(
        tmp_path: Path, connect: ClientFactory) -> None:
    server = ChatServer(server_config(tmp_path / "peer-hosted", node="a" * 64))
    await server.start()
    try:
        await _roster_lists_peers(server, connect)
    finally:
        await server.close()


async def _roster_lists_peers(server: ChatServer, connect: ClientFactory) -> None:
    ann = await connect("ann", server)
    assert ann.state.server_id == server.server_id and ann.state.epoch == 1
    assert ann.state.host == server.node
    await ann.wait_for(lambda s: s.roster is not None)
    assert ann.state.roster is not None and [i.node for i in ann.state.roster.peers] == [server.node]
    assert ann.state.roster.peers[0].fingerprint == server.fingerprint

    host, port = server.address
    bob = ClientSession(host, port, "bob", identity=Identity.generate())
    bob.peer = p.PeerInfo(node="b" * 32, name="bob", addresses=["10.0.0.2"], port=47474, fingerprint="f" * 64)
    await bob.connect()
    try:
        # Everyone hears of bob, over the connection they pinned; ann (not host-capable) is not listed.
        await ann.wait_for(lambda s: s.roster is not None and len(s.roster.peers) == 2)
        assert ann.state.roster is not None
        listed = {i.node: i for i in ann.state.roster.peers}
        assert listed["b" * 32].fingerprint == "f" * 64 and listed["b" * 32].addresses == ["10.0.0.2"]
    finally:
        await bob.close()
    await ann.wait_for(lambda s: s.roster is not None and len(s.roster.peers) == 1)


async def test_a_new_host_on_a_replica_serves_the_same_chat_one_epoch_later(tmp_path: Path) -> None:
    first = ChatServer(server_config(tmp_path / "a"))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "server-id").write_text(first.server_id + "\n")
    (tmp_path / "b" / "epoch").write_text("1\n")
    first.store.close()
    second = ChatServer(server_config(tmp_path / "b", epoch=2, node="c" * 32))
    assert (second.server_id, second.epoch, second.node) == (first.server_id, 2, "c" * 32)
    assert (tmp_path / "b" / "epoch").read_text().strip() == "2"
    second.store.close()


async def test_a_client_keeps_its_rooms_and_shows_them_at_once_on_a_restart(
        server: ChatServer, connect: ClientFactory, tmp_path: Path) -> None:
    root = tmp_path / "replicas"
    me = Identity.generate()
    ann = await connect("ann", identity=me)
    ann.keep_replica(root)
    bob = await connect("bob")
    await ann.join("General")
    await bob.join("General")
    seqs = [await ann.send("General", f"from ann {i}") for i in range(3)]
    seqs.append(await bob.send("General", "from bob"))
    await ann.wait_for(lambda s: seqs[-1] in s.rooms["General"].by_seq)
    await bob.react("General", seqs[0], "👍")
    await ann.wait_for(lambda s: bool(s.rooms["General"].by_seq[seqs[0]].reactions))
    await ann.close()

    # The replica is the server's own store, with the host's seqs.
    copy = Store(root / server.server_id / "history.db")
    history, _ = copy.history("General")
    assert [(m.seq, m.sender, m.text) for m in history] == [
        (seqs[0], "ann", "from ann 0"), (seqs[1], "ann", "from ann 1"), (seqs[2], "ann", "from ann 2"),
        (seqs[3], "bob", "from bob")]
    assert history[0].reactions == {"👍": ["bob"]}
    copy.close()
    assert (root / server.server_id / "server-id").read_text().strip() == server.server_id

    await bob.send("General", "while ann was away")
    host, port = server.address
    again = ClientSession(host, port, "ann", identity=me)
    assert again.keep_replica(root, server.server_id) == 1
    # Before any connection: the history is there.
    assert [m.text for m in again.state.rooms["General"].messages] == [
        "from ann 0", "from ann 1", "from ann 2", "from bob"]
    await again.connect()
    try:
        await again.wait_for(lambda s: any(m.text == "while ann was away" for m in s.rooms["General"].messages))
        assert [m.seq for m in again.state.rooms["General"].messages] == list(range(1, 6))
    finally:
        await again.close()
