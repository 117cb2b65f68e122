"""History survives a restart; a client connected across it resumes with no gap, no duplicate."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pyrtc.client import ClientSession
from pyrtc.server import ChatServer

from ..conftest import raw_open, server_config, signed_hello


def seqs(s: ClientSession, room: str) -> list[int]:
    return [m.seq for m in s.state.rooms[room].messages]


async def test_history_survives_restart_and_clients_resume(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = ChatServer(server_config(data))
    host, port = await srv.start()
    # ann reconnects slowly, so bob can post more than one join page while she is away.
    ann = ClientSession(host, port, "ann", backoff=(1.5, 1.5))
    bob = ClientSession(host, port, "bob", backoff=(0.05, 0.2))
    await ann.connect()
    await bob.connect()
    try:
        await ann.join("General")
        await bob.join("General")
        for i in range(5):
            await ann.send("General", f"before {i}")
        await bob.wait_for(lambda s: s.rooms["General"].last_seq == 5)

        await srv.close()
        await ann.wait_for(lambda s: s.connection == "reconnecting")
        # Sent while the server is down: kept pending, delivered once after the restart.
        offline_send = asyncio.ensure_future(ann.send("General", "sent while down", timeout=30))

        srv = ChatServer(server_config(data, port=port))
        await srv.start()
        await bob.wait_connected()
        await bob.wait_for(lambda s: s.connection == "connected" and "General" in s.rooms)
        sends = [asyncio.ensure_future(bob.send("General", f"after {i}", timeout=30)) for i in range(700)]
        await asyncio.gather(*sends)

        await offline_send
        total = srv.store.last_seq("General")
        assert total == 5 + 700 + 1
        for who in (ann, bob):
            await who.wait_for(lambda s, t=total: s.rooms["General"].synced == t, timeout=15)
            assert seqs(who, "General") == list(range(1, total + 1)), who.name  # no gap, no dup
        texts = [m.text for m in ann.state.rooms["General"].messages]
        assert texts.count("sent while down") == 1
        assert texts[:5] == [f"before {i}" for i in range(5)]
    finally:
        await ann.close()
        await bob.close()
        await srv.close()


async def test_resent_message_is_stored_once(tmp_path: Path) -> None:
    """The server de-duplicates by (sender, cid): a resend after a lost ack posts nothing."""
    import pyrtc.protocol as p

    async with ChatServer(server_config(tmp_path / "d")) as srv:
        host, port = srv.address
        reader, writer = await raw_open(host, port)
        dec = p.client_decoder()
        writer.write(await signed_hello(reader, writer, "ann"))
        writer.write(p.encode(p.JoinRoom(room="General")))
        for _ in range(2):
            writer.write(p.encode(p.SendText(room="General", cid="same", text="once")))
        acks: list[p.Acked] = []
        async with asyncio.timeout(5):
            while len(acks) < 2:
                acks += [m for m in dec.feed(await reader.read(65536)) if isinstance(m, p.Acked)]
        assert acks[0].seq == acks[1].seq == 1
        assert srv.store.last_seq("General") == 1
        writer.close()


async def test_closing_with_clients_connected_is_quiet(tmp_path: Path) -> None:
    """Their disconnects arrive after the store is closed; none of them may touch it (it
    raised "Cannot operate on a closed database" from a hosted server's announcer hook)."""
    errors: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    counts: list[tuple[int, int]] = []
    srv = ChatServer(server_config(tmp_path / "data"))
    srv.on_counts_changed = lambda users, rooms: counts.append((users, rooms))
    host, port = await srv.start()
    clients = [ClientSession(host, port, name, backoff=(5, 5)) for name in ("ann", "bob")]
    for c in clients:
        await c.connect()
    assert counts[-1] == (2, 3)  # counted as each said hello, before its welcome went out
    await srv.close()
    try:
        # Their connection_lost callbacks run now, each all at once (conns is emptied first);
        # the clients see the drop (their reconnects are held off 5 s).
        async with asyncio.timeout(30):
            while srv.conns:
                await asyncio.sleep(0.01)
        for c in clients:
            await c.wait_for(lambda s: s.connection == "reconnecting", timeout=30)
        assert errors == []
        assert counts[-1] == (2, 3)  # no count from a closed server (its announcement is gone)
    finally:
        for c in clients:
            await c.close()
