"""Names belong to the identity (key) that first used them (issue 16 items 4, 12, 15 and
the file quota of 10): real server on 127.0.0.1, real sessions, the attacks staged as an
attacker would, each with a key of its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import blake3
import msgspec
import pytest

import pyrtc.protocol as p
from pyrtc.client import ClientSession, Identity, Rejected
from pyrtc.protocol import limits as L
from pyrtc.server import ChatServer
from pyrtc.server.identities import release_name
from pyrtc.server.names import name_keys
from pyrtc.store import Store

from ..conftest import ClientFactory, raw_open, read_greeting, server_config, signed_hello
from .raw import RawClient

ALICE = name_keys("Alice")[0]  # how the server files an online name


async def _refusal(session: ClientSession) -> Rejected:
    with pytest.raises(Rejected) as refused:
        await session.connect()
    await session.close()
    return refused.value


async def _offline(server: ChatServer, name: str) -> None:
    async with asyncio.timeout(5):
        while any(c.name == name for c in server.conns):
            await asyncio.sleep(0.01)


async def test_an_offline_members_name_does_not_open_her_locked_room(server: ChatServer,
                                                                    connect: ClientFactory) -> None:
    alice = await connect("Alice")
    await alice.create_room("Vault", password="s3cret")
    await alice.send("Vault", "the code is 1234")
    await alice.close()
    await _offline(server, "Alice")
    mallory = ClientSession(*server.address, "Alice", identity=Identity.generate())
    refused = await _refusal(mallory)
    assert refused.code == "name_taken"
    assert "belongs to someone else" in str(refused) and "--release-name 'Alice'" in str(refused)
    # Alice herself (her key) comes back, and needs no password: she is a member.
    again = await connect("Alice")
    assert [m.text for m in (await again.join("Vault")).messages] == ["the code is 1234"]


async def test_a_freed_name_inherits_no_membership(server: ChatServer, connect: ClientFactory) -> None:
    alice = await connect("Alice")
    await alice.create_room("Vault", password="s3cret")
    await alice.send("Vault", "the code is 1234")
    await alice.close()
    await _offline(server, "Alice")
    released = release_name(server.store, "alice")  # what `pyrtc server --release-name` does
    assert [b.name for b in released.bindings] == ["Alice"] and released.locked_rooms == ["Vault"]
    newcomer = await connect("Alice", identity=Identity.generate())  # the name is free now...
    with pytest.raises(Rejected, match="'Vault' needs its password"):
        await newcomer.join("Vault")  # ... but not Alice's membership
    assert "Vault" not in newcomer.state.rooms


def test_a_membership_counts_only_for_the_identity_that_joined(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")
    store.create_room("Vault", "scrypt$…")
    store.add_member("Vault", "Alice", "a" * 64)
    assert store.is_member("Vault", "Alice", "a" * 64)
    assert not store.is_member("Vault", "Alice", "b" * 64)
    assert store.rooms_of("Alice", "b" * 64) == [] and store.rooms_of("Alice", "a" * 64) == ["Vault"]
    store.close()


@pytest.mark.parametrize("blank", ["\u3164", "\uffa0", "\u115f", "\u1160", "\u2800"])
async def test_blank_look_alike_letters_cannot_pass_for_an_online_name(server: ChatServer, connect: ClientFactory,
                                                                      blank: str) -> None:
    await connect("Alice")
    twin = ClientSession(*server.address, "Alice" + blank, identity=Identity.generate())
    refused = await _refusal(twin)
    assert refused.code == "bad_name" and f"U+{ord(blank):04X}" in str(refused)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
async def test_line_and_paragraph_separators_are_refused_in_names(server: ChatServer, separator: str) -> None:
    refused = await _refusal(ClientSession(*server.address, f"Al{separator}ice", identity=Identity.generate()))
    assert refused.code == "bad_name" and f"U+{ord(separator):04X}" in str(refused)
    assert not any(c.name for c in server.conns)


@pytest.mark.parametrize("twin", ["\u0410lice", "ALICE", "alice", "A\u217cice"])  # Cyrillic А, case, Roman ⅼ
async def test_a_look_alike_of_a_name_bound_to_another_key_is_refused_offline_too(
        server: ChatServer, connect: ClientFactory, twin: str) -> None:
    alice = await connect("Alice")
    await alice.close()
    await _offline(server, "Alice")
    refused = await _refusal(ClientSession(*server.address, twin, identity=Identity.generate()))
    assert refused.code == "name_taken" and "looks like 'Alice'" in str(refused)
    mine = await connect(twin, identity=alice.identity)  # Alice's own key may spell it so
    assert mine.state.me == twin


async def test_the_same_key_and_name_replace_a_half_open_session(server: ChatServer, connect: ClientFactory) -> None:
    me = Identity.generate()
    reader, writer = await raw_open(*server.address)
    writer.write(await signed_hello(reader, writer, "Alice", identity=me))
    dec = p.client_decoder()
    async with asyncio.timeout(5):
        assert isinstance(dec.feed(await reader.read(1 << 16))[0], p.Welcome)
    # The old connection is half-open (its reader vanished); the same person reconnects.
    alice = await connect("Alice", identity=me)
    assert await alice.join("General") and await alice.send("General", "back") == 1
    got: list[p.ServerMsg] = []
    async with asyncio.timeout(5):
        while data := await reader.read(1 << 16):
            got += dec.feed(data)
    assert [(m.code, m.fatal) for m in got if isinstance(m, p.Error)] == [("replaced", True)]
    assert [c for c in server.conns if c.name == "Alice"] == [server.online[ALICE]]
    writer.close()


async def test_another_key_never_takes_over_an_online_session(server: ChatServer, connect: ClientFactory) -> None:
    alice = await connect("Alice")
    await alice.join("General")
    online = server.online[ALICE]
    # What a captured hello gets an attacker: its proof was for another greeting's nonce.
    reader, writer = await raw_open(*server.address)
    captured = await signed_hello(reader, writer, "Alice", identity=alice.identity)
    writer.close()
    replay_r, replay_w = await raw_open(*server.address)
    await read_greeting(replay_r)
    replay_w.write(captured)
    # And its own key, with a session token as protocol 2 took them.
    own_r, own_w = await raw_open(*server.address)
    greeting = await read_greeting(own_r)
    mallory = Identity.generate()
    fp = server.fingerprint or ""
    own_w.write(_frame({"t": "hello", "version": p.PROTOCOL_VERSION, "name": "Alice", "token": "captured",
                        "key": mallory.public_der,
                        "proof": mallory.sign(p.hello_proof(greeting.nonce, fp, "Alice"))}))
    for r, w, code in ((replay_r, replay_w, "bad_identity"), (own_r, own_w, "name_taken")):
        dec = p.client_decoder()
        got: list[p.ServerMsg] = []
        async with asyncio.timeout(5):
            while data := await r.read(1 << 16):
                got += dec.feed(data)
        assert [m.code for m in got if isinstance(m, p.Error)] == [code]
        assert not any(isinstance(m, p.Welcome) for m in got)
        w.close()
    assert server.online[ALICE] is online and not online.closed
    assert await alice.send("General", "still me") == 1


async def test_the_file_quota_counts_per_identity_whatever_the_name(tmp_path: Path) -> None:
    files = []
    for i in range(3):
        files.append(tmp_path / f"f{i}.txt")
        files[-1].write_bytes(f"file {i}".encode())
    me = Identity.generate()
    async with ChatServer(server_config(tmp_path / "d", max_files=2)) as srv:
        async with ClientSession(*srv.address, "ann", identity=me) as ann:
            await ann.join("General")
            for f in files[:2]:
                await ann.upload("General", f)
        async with ClientSession(*srv.address, "ann2", identity=me) as renamed:
            await renamed.join("General")
            with pytest.raises(Rejected, match="you shared 2 files in the last 24 hours") as refused:
                await renamed.upload("General", files[2], retries=0)
            assert refused.value.code == "file_quota"
        async with ClientSession(*srv.address, "bob", identity=Identity.generate()) as bob:
            await bob.join("General")
            seq = await bob.upload("General", files[2])
            posted = bob.state.rooms["General"].by_seq[seq].file
            assert posted is not None and posted.blob_id == blake3.blake3(b"file 2").hexdigest()


async def test_the_room_quota_counts_per_identity_whatever_the_name(tmp_path: Path) -> None:
    me = Identity.generate()
    async with ChatServer(server_config(tmp_path / "d", rooms_per_hour=2)) as srv:
        async with ClientSession(*srv.address, "ann", identity=me) as ann:
            await ann.create_room("One")
            await ann.create_room("Two", password="x")
        async with ClientSession(*srv.address, "ann2", identity=me) as renamed:
            with pytest.raises(Rejected, match="you created 2 rooms in the last hour") as refused:
                await renamed.create_room("Three")
            assert refused.value.code == "room_quota"
        async with ClientSession(*srv.address, "bob", identity=Identity.generate()) as bob:
            await bob.create_room("Three")


async def test_unfinished_upload_bytes_count_per_identity_whatever_the_name(tmp_path: Path) -> None:
    size = 4 * L.CHUNK_SIZE
    me = Identity.generate()
    async with ChatServer(server_config(tmp_path / "d", max_file=size, max_unfinished_per_user=size)) as srv:
        answers = []
        for n, name in enumerate(("ann", "ann2")):  # one person, a name per upload left behind
            raw = await RawClient.open(srv.address, name, "General", identity=me)
            data = bytes([n]) * size
            raw.send(p.OfferFile(room="General", cid=f"c{n}", name="f.bin", size=size,
                                 blob_id=blake3.blake3(data).hexdigest(), rid=1),
                     p.FileChunk(blob_id=blake3.blake3(data).hexdigest(), offset=0, data=data[:L.CHUNK_SIZE]))
            answers.append(await raw.answer(1))
            await raw.drained()
            await raw.hang_up(srv)
        assert isinstance(answers[0], p.UploadReady)
        assert isinstance(answers[1], p.Error) and answers[1].code == "unfinished_quota"


def _frame(obj: object) -> bytes:
    body = msgspec.msgpack.encode(obj)
    return len(body).to_bytes(4, "big") + body
