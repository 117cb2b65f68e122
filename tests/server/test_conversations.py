"""Protocol 4 with a real server and real clients: direct conversations are their two
members' only, replies carry the quoted seq, edits and deletes are the sender's only and
reach a client that was away, status goes away by itself and comes back."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

import pyrtc.protocol as p
from pyrtc.client import ClientSession, Identity, Rejected
from pyrtc.server import ChatServer

from ..conftest import ClientFactory, FakeClock, server_config


async def _dm(connect: ClientFactory) -> tuple[ClientSession, ClientSession, str]:
    """ann and bob (who follows his direct messages) in a direct conversation: (ann, bob, room)."""
    bob = await connect("bob", follow_directs=True)
    ann = await connect("ann")
    room = (await ann.open_direct("bob")).name
    await bob.wait_for(lambda s: room in s.rooms)
    return ann, bob, room


async def test_a_third_user_cannot_join_read_search_or_download_a_direct_conversation(
        tmp_path: Path, connect: ClientFactory, server: ChatServer) -> None:
    ann, bob, room = await _dm(connect)
    assert p.is_direct(room) and ann.state.title(room) == "@bob" and bob.state.title(room) == "@ann"
    secret = tmp_path / "plans.txt"
    secret.write_bytes(b"the secret plans")
    file_seq = await ann.upload(room, secret)
    await ann.send(room, "meet at noon")
    blob = ann.state.rooms[room].by_seq[file_seq].file.blob_id  # type: ignore[union-attr]
    await bob.wait_for(lambda s: s.rooms[room].last_seq == file_seq + 1)
    assert [h.text for h in await bob.search(room, "noon")] == ["meet at noon"]
    assert (await bob.download(blob, tmp_path / "bob.txt")).read_bytes() == b"the secret plans"

    cy = await connect("cy")
    await cy.join("General")
    assert room not in [r.name for r in await cy.list_rooms()]  # not even listed
    refused = []
    for how in ({}, {"watch": True}, {"visit": True}):
        with pytest.raises(Rejected) as err:
            await cy.join(room, **how)  # type: ignore[arg-type]
        refused.append(err.value.code)
    assert refused == ["not_allowed"] * 3
    with pytest.raises(Rejected) as err:
        await cy.history(room)
    assert err.value.code == "not_joined"
    with pytest.raises(Rejected) as err:
        await cy.search(room, "noon")
    assert err.value.code == "not_joined"
    with pytest.raises(Rejected) as err:
        await cy.download(blob, tmp_path / "cy.txt")
    assert err.value.code == "no_file"
    assert not (tmp_path / "cy.txt").exists()
    with pytest.raises(Rejected) as err:  # nor can a third open it as if it were theirs
        await cy.send(room, "hi")
    assert room not in cy.state.rooms and server.store.history(room)[0][-1].text == "meet at noon"


async def test_a_direct_message_to_someone_offline_waits_and_tells_them_on_return(
        server: ChatServer, connect: ClientFactory) -> None:
    bob = await connect("bob")  # bob has used this server (his name is bound to his key) ...
    await bob.close()  # ... and is away now
    ann = await connect("ann")
    with pytest.raises(Rejected) as err:
        await ann.open_direct("nobody")
    assert err.value.code == "unknown_user"
    room = (await ann.open_direct("bob")).name
    await ann.send(room, "call me when you are back")
    back = await connect("bob", follow_directs=True)
    await back.wait_for(lambda s: room in s.rooms and s.rooms[room].last_seq == 1)
    assert [m.text for m in back.state.rooms[room].messages] == ["call me when you are back"]
    assert back.state.unread(room) == 1 and back.state.notice == "ann wrote to you (1 new)"
    assert "General" not in back.state.rooms  # only the conversations are joined by themselves


async def test_replies_round_trip_with_the_quoted_seq(connect: ClientFactory) -> None:
    ann, bob, room = await _dm(connect)
    first = await ann.send(room, "lunch at 12?\nor later")
    reply = await bob.send(room, "12 is fine", reply_to=first)
    await ann.wait_for(lambda s: reply in s.rooms[room].by_seq)
    got = ann.state.rooms[room].by_seq[reply]
    assert (got.reply_to, got.quote, got.quote_sender) == (first, "lunch at 12?", "ann")
    page = await ann.history(room)  # and so does history
    assert [(m.seq, m.reply_to, m.quote) for m in page.messages] == [(first, 0, ""), (reply, first, "lunch at 12?")]
    with pytest.raises(Rejected) as err:
        await bob.send(room, "to nothing", reply_to=99)
    assert err.value.code == "unknown_message"


async def test_edits_and_deletes_are_the_senders_only_and_reach_a_client_that_was_away(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "pyrtc.chat")
    data = tmp_path / "data"
    srv = ChatServer(server_config(data))
    host, port = await srv.start()
    ann = ClientSession(host, port, "ann", identity=Identity.generate())
    bob = ClientSession(host, port, "bob", backoff=(0.05, 0.2), identity=Identity.generate())
    try:
        await ann.connect()
        await bob.connect()
        for s in (ann, bob):
            await s.join("General")
        keep, edit, gone = [await ann.send("General", t) for t in ("stays", "tpyo", "oops")]
        await bob.wait_for(lambda s: s.rooms["General"].last_seq == gone)

        with pytest.raises(Rejected) as err:  # a forged edit and delete of ann's messages
            await bob.edit("General", edit, "bob was here")
        assert err.value.code == "not_yours"
        with pytest.raises(Rejected) as err:
            await bob.delete("General", keep)
        assert err.value.code == "not_yours"
        assert [m.text for m in srv.store.history("General")[0]] == ["stays", "tpyo", "oops"]

        # bob is cut off and cannot come back until the edits are made
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            bob.port = closed.getsockname()[1]
        next(c for c in srv.conns if c.name == "bob").abort()
        await bob.wait_for(lambda s: s.connection == "reconnecting")
        await ann.edit("General", edit, "typo")
        await ann.delete("General", gone)
        view = ann.state.rooms["General"]
        assert view.by_seq[edit].text == "typo" and view.by_seq[edit].edited > 0 and view.by_seq[gone].deleted
        assert bob.state.rooms["General"].by_seq[edit].text == "tpyo"  # away: not yet

        bob.port = port
        await bob.wait_for(lambda s: s.connection == "connected" and s.rooms["General"].by_seq[gone].deleted,
                           timeout=15)
        got = bob.state.rooms["General"].by_seq
        assert (got[edit].text, got[edit].edited > 0, got[gone].text, got[keep].edited) == ("typo", True, "", 0)
        with pytest.raises(Rejected):
            await ann.edit("General", gone, "back from the dead")
        assert [h.seq for h in await ann.search("General", "oops")] == []  # gone from search too
    finally:
        await ann.close()
        await bob.close()
        await srv.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "pyrtc.chat"]
    assert f'edit room=General seq={edit} from=ann text="typo"' in lines
    assert f"delete room=General seq={gone} from=ann" in lines

    srv = ChatServer(server_config(data))  # both survive a restart
    host, port = await srv.start()
    try:
        async with ClientSession(host, port, "cy", identity=Identity.generate()) as cy:
            await cy.join("General")
            got = cy.state.rooms["General"].by_seq
            assert (got[edit].text, got[edit].edited > 0, got[gone].deleted, got[gone].text) == ("typo", True, True, "")
    finally:
        await srv.close()


async def test_away_is_set_after_ten_idle_minutes_and_cleared_by_input(
        server: ChatServer, connect: ClientFactory) -> None:
    idle = FakeClock()
    ann = await connect("ann", idle_clock=idle)
    bob = await connect("bob")
    for s in (ann, bob):
        await s.join("General")
    idle.advance(599)
    ann.check_idle()
    idle.advance(2)
    ann.check_idle()
    await bob.wait_for(lambda s: s.status_of("ann") == "away")
    ann.note_input()
    await bob.wait_for(lambda s: s.status_of("ann") == "")
    await ann.set_status("busy", "in a meeting")
    await bob.wait_for(lambda s: s.status_of("ann") == "busy · in a meeting")
    idle.advance(3600)
    ann.check_idle()  # a status the user chose stays
    cy = await connect("cy")
    await cy.join("General")  # a newcomer is told too
    await cy.wait_for(lambda s: s.status_of("ann") == "busy · in a meeting")
    assert bob.state.status_of("ann") == "busy · in a meeting"
    await ann.close()  # a status ends with its connection: nobody keeps showing it
    await bob.wait_for(lambda s: s.status_of("ann") == "" and not s.rooms["General"].members["ann"].online)
