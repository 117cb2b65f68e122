"""Each limit answers with its clear error, and the server keeps serving everyone else."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import pyrtc.protocol as p
from pyrtc.client import ClientSession
from pyrtc.server import ChatServer
from pyrtc.server.names import name_keys

from ..conftest import FakeClock, raw_open, server_config, signed_hello, texts


async def test_flood_gets_slow_down_and_others_keep_chatting(tmp_path: Path, clock: FakeClock) -> None:
    async with ChatServer(server_config(tmp_path / "d", max_rate=5, burst=10), clock=clock) as srv:
        host, port = srv.address
        reader, writer = await raw_open(host, port)
        writer.write(await signed_hello(reader, writer, "flood")
                     + p.encode(p.JoinRoom(room="General"))
                     + b"".join(p.encode(p.SendText(room="General", cid=f"c{i}", text="spam")) for i in range(30))
                     + p.encode(p.Ping(nonce=1)))
        dec = p.client_decoder()
        got: list[p.ServerMsg] = []
        async with asyncio.timeout(10):
            while not any(isinstance(m, p.Pong) for m in got):
                got += dec.feed(await reader.read(1 << 16))
        acked = [m for m in got if isinstance(m, p.Acked)]
        slow = [m for m in got if isinstance(m, p.Error) and m.code == "slow_down"]
        assert len(acked) == 10 and len(slow) == 20  # the burst goes through, the rest is refused
        assert "slow down: at most 5 messages a second" in slow[0].message and slow[0].cid == "c10"
        assert not slow[0].fatal
        clock.advance(1.0)  # five more tokens
        writer.write(p.encode(p.SendText(room="General", cid="later", text="calm now")))
        async with asyncio.timeout(10):
            while not any(isinstance(m, p.Acked) and m.cid == "later" for m in dec.feed(await reader.read(1 << 16))):
                pass
        async with ClientSession(host, port, "ann") as ann:
            await ann.join("General")
            assert await ann.send("General", "unaffected") == 12
        writer.close()


async def test_well_behaved_client_paces_itself_under_the_limit(tmp_path: Path, clock: FakeClock) -> None:
    """Client and server count time by one fake clock, moved only while every message sent is
    answered: the server sees each one at the instant the client sent it, however late it
    reads (on the real clock, a read stall made the server's bucket refuse what the client
    had paced right)."""
    async with ChatServer(server_config(tmp_path / "d", max_rate=200, burst=20), clock=clock) as srv:
        async with ClientSession(*srv.address, "ann", clock=clock) as ann:
            await ann.join("General")
            start = clock.now
            sends = asyncio.gather(*(ann.send("General", f"m{i}") for i in range(120)))
            while not sends.done():
                await ann.wait_for(lambda s: not s.rooms["General"].pending(), timeout=30)
                clock.advance(0.005)  # one token or so: the next sends may go
                await asyncio.wait([sends], timeout=0.002)  # let them (any wait would do)
            seqs = await sends
            assert sorted(seqs) == list(range(1, 121))  # none refused
            assert texts(ann, "General")[-1] == "m119"
            assert clock.now - start >= (120 - 18) / 180  # it waited: 90 % of the rate, after 90 % of the burst


async def test_connections_per_address_and_in_total(tmp_path: Path) -> None:
    async with ChatServer(server_config(tmp_path / "d", max_per_address=3, max_connections=100)) as srv:
        host, port = srv.address
        held = [ClientSession(host, port, f"u{i}") for i in range(3)]
        for s in held:
            await s.connect()
        reader, writer = await raw_open(host, port)
        dec = p.client_decoder()
        async with asyncio.timeout(5):
            msgs = dec.feed(await reader.read(1 << 16))
        assert [m.code for m in msgs if isinstance(m, p.Error)] == ["too_many_connections"]
        assert "3 connections from 127.0.0.1" in msgs[0].message  # type: ignore[union-attr]
        await held[0].close()
        async with ClientSession(host, port, "next") as s:  # room again
            await s.join("General")
        for s in held[1:]:
            await s.close()
        writer.close()
    async with ChatServer(server_config(tmp_path / "e", max_connections=2)) as srv:
        host, port = srv.address
        a, b = ClientSession(host, port, "a"), ClientSession(host, port, "b")
        await a.connect()
        await b.connect()
        reader, writer = await raw_open(host, port)
        async with asyncio.timeout(5):
            msgs = p.client_decoder().feed(await reader.read(1 << 16))
        assert msgs and isinstance(msgs[0], p.Error) and msgs[0].code == "server_full"
        await a.close()
        await b.close()
        writer.close()


async def test_names_that_only_look_different_are_taken(tmp_path: Path) -> None:
    from pyrtc.client import Rejected

    async with ChatServer(server_config(tmp_path / "d")) as srv:
        async with ClientSession(*srv.address, "anna") as _:
            for twin in ("\u0430nna", "ANNA", "an\u0301na"):  # Cyrillic а, case, a combining accent
                s = ClientSession(*srv.address, twin)
                with pytest.raises(Rejected, match="in use.*looks like 'anna'"):
                    await s.connect()
                await s.close()
            hidden = ClientSession(*srv.address, "ev\u200be")  # a zero-width space inside
            with pytest.raises(Rejected, match="invisible characters \\(U\\+200B\\)"):
                await hidden.connect()
            await hidden.close()
            async with ClientSession(*srv.address, "annabel") as other:  # merely similar: fine
                assert other.state.me == "annabel"
        # Unicode's look-alike table: fullwidth, mathematical letters, capital I for l, 0 for O.
        async with ClientSession(*srv.address, "bill") as _, ClientSession(*srv.address, "Oscar") as _:
            for twin, held in [("\uff42\uff49\uff4c\uff4c", "bill"), ("\U0001d41b\U0001d422\U0001d425\U0001d425", "bill"),
                               ("biII", "bill"), ("bi11", "bill"), ("0scar", "Oscar"), ("oscar", "Oscar")]:
                s = ClientSession(*srv.address, twin)
                with pytest.raises(Rejected, match=f"in use.*looks like '{held}'"):
                    await s.connect()
                await s.close()
            async with ClientSession(*srv.address, "bilal") as other, ClientSession(*srv.address, "Oskar") as _:
                assert other.state.me == "bilal"


def test_name_keys_follow_unicode_lookalikes() -> None:
    def same(a: str, b: str) -> bool:
        return bool(set(name_keys(a)) & set(name_keys(b)))

    assert same("paypal", "p\u0430yp\u0430l") and same("Ann", "\u0410NN") and same("José", "jose")
    assert same("ilse", "Ilse") and same("lise", "Iise") and same("zoe", "\u0396oe")
    assert not same("Bob", "Rob") and not same("ann", "anne") and not same("Dave", "Eve")
    assert name_keys("张伟") == ("张伟",)  # scripts without Latin look-alikes are compared as they are
