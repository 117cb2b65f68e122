from __future__ import annotations

from pathlib import Path

from pyrtc.client import ClientSession
from pyrtc.server import ChatServer

from ..conftest import ClientFactory, FakeClock, server_config


async def test_receipts_sent_delivered_read_per_member(connect: ClientFactory) -> None:
    ann = await connect("ann")
    bob = await connect("bob", auto_delivered=False)
    cy = await connect("cy", auto_delivered=False)
    for s in (ann, bob, cy):
        await s.join("General")
    await ann.wait_for(lambda s: set(s.rooms["General"].members) == {"ann", "bob", "cy"})

    seq = await ann.send("General", "did you get this?")
    room = ann.state.rooms["General"]
    msg = room.by_seq[seq]
    assert ann.state.status(msg) == "sent"  # ✓

    await bob.wait_for(lambda s: seq in s.rooms["General"].by_seq)
    await bob.mark_delivered("General", seq)
    await ann.wait_for(lambda s: s.delivered_to(msg) == ["bob"])
    assert ann.state.status(msg) == "sent"  # cy does not have it yet

    await cy.wait_for(lambda s: seq in s.rooms["General"].by_seq)
    await cy.mark_delivered("General", seq)
    await ann.wait_for(lambda s: s.status(msg) == "delivered")  # ✓✓
    assert ann.state.read_by(msg) == []

    await bob.mark_read("General", seq)
    await ann.wait_for(lambda s: s.read_by(msg) == ["bob"])
    assert ann.state.status(msg) == "delivered"

    await cy.mark_read("General", seq)
    await ann.wait_for(lambda s: s.status(msg) == "read")  # blue ✓✓
    assert ann.state.read_by(msg) == ["bob", "cy"]


async def test_clients_report_delivered_by_themselves(connect: ClientFactory) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await ann.join("General")
    await bob.join("General")
    seq = await ann.send("General", "auto")
    await ann.wait_for(lambda s: s.status(s.rooms["General"].by_seq[seq]) == "delivered")


async def test_unread_counts_follow_reads(connect: ClientFactory) -> None:
    ann, bob = await connect("ann"), await connect("bob")
    await ann.join("General")
    await bob.join("General")
    for i in range(3):
        last = await ann.send("General", f"m{i}")
    await bob.wait_for(lambda s: s.unread("General") == 3)
    await bob.mark_read("General", last - 1)
    await bob.wait_for(lambda s: s.unread("General") == 1)


async def test_typing_on_off_on_send_and_by_expiry(tmp_path: Path, clock: FakeClock) -> None:
    async with ChatServer(server_config(tmp_path / "d", typing_ttl=5.0), clock=clock) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "ann") as ann, ClientSession(host, port, "bob") as bob:
            await ann.join("General")
            await bob.join("General")
            await ann.wait_for(lambda s: "bob" in s.rooms["General"].members)

            await bob.set_typing("General", True)
            await ann.wait_for(lambda s: s.typing_line("General") == "bob is typing…")
            await bob.send("General", "done typing")  # sending clears it
            await ann.wait_for(lambda s: s.typing_line("General") == "" and
                               s.rooms["General"].last_seq == 1)

            await bob.set_typing("General", True)
            await ann.wait_for(lambda s: "bob" in s.rooms["General"].typing)
            clock.advance(4.0)
            srv.sweep()
            await bob.set_typing("General", True)  # still typing: refresh, no new frame
            await bob.ping()  # a round trip: the server has handled the refresh
            clock.advance(4.0)
            srv.sweep()
            assert "bob" in srv.bus.room("General").typing  # refreshed at +4 s, lives to +9 s
            clock.advance(1.5)
            srv.sweep()  # expired
            await ann.wait_for(lambda s: "bob" not in s.rooms["General"].typing)


async def test_typing_line_names_several_people(connect: ClientFactory) -> None:
    people = [await connect(n) for n in ("ann", "bob", "cy", "dee")]
    for s in people:
        await s.join("General")
    ann = people[0]
    await ann.wait_for(lambda s: len(s.rooms["General"].members) == 4)
    await people[1].set_typing("General", True)
    await people[2].set_typing("General", True)
    await ann.wait_for(lambda s: s.typing_line("General") == "bob and cy are typing…")
    await people[3].set_typing("General", True)
    await ann.wait_for(lambda s: s.typing_line("General") == "Several people are typing…")


async def test_reactions_reach_everyone_and_survive_restart(tmp_path: Path) -> None:
    data = tmp_path / "d"
    async with ChatServer(server_config(data)) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "ann") as ann, ClientSession(host, port, "bob") as bob:
            await ann.join("General")
            await bob.join("General")
            seq = await ann.send("General", "react to this")
            await bob.wait_for(lambda s: seq in s.rooms["General"].by_seq)
            await bob.react("General", seq, "👍")
            await ann.react("General", seq, "🎉")
            await ann.react("General", seq, "👍")
            for s in (ann, bob):
                await s.wait_for(lambda st: st.rooms["General"].by_seq[seq].reactions ==
                                 {"👍": {"ann", "bob"}, "🎉": {"ann"}})
            await ann.react("General", seq, "🎉", on=False)
            await bob.wait_for(lambda st: st.rooms["General"].by_seq[seq].reactions ==
                               {"👍": {"ann", "bob"}})
    async with ChatServer(server_config(data)) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "cy") as cy:
            view = await cy.join("General")
            assert view.by_seq[seq].reactions == {"👍": {"ann", "bob"}}


async def test_search_over_history(connect: ClientFactory) -> None:
    ann = await connect("ann")
    await ann.join("General")
    await ann.send("General", "the meeting moved to Thursday")
    await ann.send("General", "lunch at noon")
    hits = await ann.search("General", "thurs")
    assert [h.text for h in hits] == ["the meeting moved to Thursday"]


async def test_older_history_loads_page_by_page(server: ChatServer, connect: ClientFactory) -> None:
    server.store.bulk_append("Study", ((f"u{i % 3}", f"old {i}") for i in range(250)))
    ann = await connect("ann")
    view = await ann.join("Study")
    assert len(view.messages) == 100 and view.more_before
    assert await ann.load_older("Study") == 100
    assert await ann.load_older("Study") == 50
    view = ann.state.rooms["Study"]
    assert [m.seq for m in view.messages] == list(range(1, 251)) and not view.more_before
