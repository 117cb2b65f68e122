"""Names and direct conversations are the chat's, not one server's: `pyrtc server --cluster` as
real processes on one real nats-server. A name bound through one server is refused to another
identity through any other (also two claims at the same moment); a direct conversation
between people on two servers works both ways."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrtc.client import ClientSession, Identity, Rejected
from pyrtc.protocol.codes import ErrorCode

from ..cli.procs import Server
from .natsd import NatsServer


@pytest.fixture
async def two(tmp_path: Path, nats: NatsServer, started: list[Server]) -> tuple[Server, Server]:
    servers = await asyncio.gather(*(asyncio.to_thread(Server, tmp_path / n, "--cluster", nats.url, "--chat-id",
                                                       "names", "--max-rate", "0") for n in ("a", "b")))
    started.extend(servers)
    return servers[0], servers[1]


@pytest.fixture
async def sessions() -> Iterator[list[ClientSession]]:
    opened: list[ClientSession] = []
    yield opened  # type: ignore[misc]
    await asyncio.gather(*(s.close() for s in opened))


async def as_(server: Server, name: str, identity: Identity, opened: list[ClientSession],
              **opts: object) -> ClientSession:
    host, port = server.address.rsplit(":", 1)
    s = ClientSession(host, int(port), name, identity=identity, reconnect=False, **opts)  # type: ignore[arg-type]
    opened.append(s)
    await s.connect()
    return s


async def refused(server: Server, name: str, identity: Identity, opened: list[ClientSession]) -> str:
    with pytest.raises(Rejected) as exc:
        await as_(server, name, identity, opened)
    assert exc.value.code == ErrorCode.NAME_TAKEN, exc.value
    return str(exc.value)


async def test_a_name_bound_through_one_server_is_refused_to_another_identity_through_any(
        two: tuple[Server, Server], sessions: list[ClientSession]) -> None:
    a, b = two
    ann, mallory = Identity.generate(), Identity.generate()
    first = await as_(a, "Ann", ann, sessions)
    await first.close()  # offline, the name is still Ann's
    assert "'Ann'" in await refused(b, "Ann", mallory, sessions)
    assert "looks like" in await refused(b, "ANN", mallory, sessions)
    assert await refused(b, "\u0391nn", mallory, sessions)  # Greek capital alpha: a look-alike
    assert await refused(a, "Ann", mallory, sessions)
    back = await as_(b, "Ann", ann, sessions)  # Ann's own identity: welcome through any server
    assert back.state.me == "Ann"
    other = await as_(b, "Mal", mallory, sessions)
    assert other.state.me == "Mal"


async def test_two_identities_claiming_one_name_at_once_through_two_servers_one_gets_it(
        two: tuple[Server, Server], sessions: list[ClientSession]) -> None:
    a, b = two
    for round_ in range(5):  # a fixed number of races, each for a new name
        name = f"Zed{round_}"
        results = await asyncio.gather(as_(a, name, Identity.generate(), sessions),
                                       as_(b, name, Identity.generate(), sessions), return_exceptions=True)
        won = [r for r in results if isinstance(r, ClientSession)]
        lost = [r for r in results if isinstance(r, Rejected)]
        assert len(won) == 1 and len(lost) == 1, results
        assert lost[0].code == ErrorCode.NAME_TAKEN


async def test_a_direct_conversation_between_people_on_two_servers_works_both_ways(
        two: tuple[Server, Server], sessions: list[ClientSession]) -> None:
    a, b = two
    ann = await as_(a, "Ann", Identity.generate(), sessions)
    bob = await as_(b, "Bob", Identity.generate(), sessions, follow_directs=True)
    view = await ann.open_direct("Bob")  # Bob connected through B only
    room = view.name
    hi = await ann.send(room, "hi Bob, from A")
    await bob.wait_for(lambda s: room in s.rooms and hi in s.rooms[room].by_seq, timeout=30)
    assert bob.state.directs[room].peer == "Ann"
    back = await bob.send(room, "hi Ann, from B", reply_to=hi)
    await ann.wait_for(lambda s: back in s.rooms[room].by_seq, timeout=30)
    for s in (ann, bob):
        got = [(m.seq, m.sender, m.text, m.reply_to, m.quote) for m in s.state.rooms[room].messages if m.seq]
        assert got == [(hi, "Ann", "hi Bob, from A", 0, ""), (back, "Bob", "hi Ann, from B", hi, "hi Bob, from A")]
    # Nobody else may read it, through either server.
    eve = await as_(b, "Eve", Identity.generate(), sessions)
    with pytest.raises(Rejected) as exc:
        await eve.join(room)
    assert exc.value.code == ErrorCode.NOT_ALLOWED
