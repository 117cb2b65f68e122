"""A file is read only by those who may read a room it was posted in, or by its uploader
(issue 16, items 8 and 17).

Downloads used to go by file id alone, so a locked room's file could be fetched by anyone
who learnt its id; offering a known id re-posted it elsewhere without sending a byte (and
told the offerer that the server holds it); and a known 4-byte file offered as 99 MiB was
posted with that size.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import blake3
import pytest
from PIL import Image

import pyrtc.protocol as p
from pyrtc.client import ClientSession, Rejected
from pyrtc.protocol import limits as L
from pyrtc.server import ChatServer

from ..cli.test_cli import Server as CliServer
from ..cli.test_cli import run
from ..conftest import ClientFactory
from .raw import RawClient, name_free

PASSWORD = "quarterly"
SECRET = os.urandom(3 * L.CHUNK_SIZE + 99)


async def vault(tmp_path: Path, connect: ClientFactory) -> tuple[ClientSession, str, str]:
    """ann's locked room "Vault" with a file and a picture in it: (ann, file id, thumbnail id)."""
    ann = await connect("ann")
    await ann.create_room("Vault", password=PASSWORD)
    secret, pic = tmp_path / "numbers.bin", tmp_path / "chart.png"
    secret.write_bytes(SECRET)
    Image.new("RGB", (300, 200), (5, 6, 7)).save(pic)
    s1, s2 = await ann.upload("Vault", secret), await ann.upload("Vault", pic)
    room = ann.state.rooms["Vault"]
    blob, thumb = room.by_seq[s1].file.blob_id, room.by_seq[s2].file.thumb_id  # type: ignore[union-attr]
    assert thumb is not None
    return ann, blob, thumb


async def test_outsiders_cannot_fetch_a_locked_rooms_files(tmp_path: Path, connect: ClientFactory) -> None:
    _, blob, thumb = await vault(tmp_path, connect)
    mallory = await connect("mallory")
    await mallory.join("General")
    refusals = []
    for fid in (blob, thumb, "e" * 64):  # the last one never existed
        with pytest.raises(Rejected) as refused:
            await mallory.download(fid, tmp_path / f"{fid[:8]}.got")
        refusals.append((refused.value.code, str(refused.value).replace(fid, "<id>")))
    # One answer whether the file exists or not: a refusal tells nothing.
    assert refusals == [("no_file", "no file with id <id>")] * 3
    assert list(tmp_path.glob("*.got")) == []


async def test_anyone_connected_fetches_an_open_rooms_files(tmp_path: Path, connect: ClientFactory) -> None:
    """An open room is anyone's to watch, and so are its files (`pyrtc download` by id)."""
    ann, dora = await connect("ann"), await connect("dora")
    await ann.join("General")
    src = tmp_path / "menu.txt"
    src.write_bytes(b"soup")
    seq = await ann.upload("General", src)
    blob = ann.state.rooms["General"].by_seq[seq].file.blob_id  # type: ignore[union-attr]
    assert (await dora.download(blob, tmp_path / "got.txt")).read_bytes() == b"soup"


async def test_members_watchers_and_the_uploader_fetch_them(tmp_path: Path, connect: ClientFactory) -> None:
    ann, blob, thumb = await vault(tmp_path, connect)
    bob, carol = await connect("bob"), await connect("carol")
    await bob.join("Vault", password=PASSWORD)
    await carol.join("Vault", password=PASSWORD, watch=True)
    for who in (bob, carol):
        got = await who.download(blob, tmp_path / f"{who.name}.bin")
        assert got.read_bytes() == SECRET
        await who.download(thumb, tmp_path / f"{who.name}.png")
    await ann.leave("Vault")  # what one uploaded stays one's own
    assert (await ann.download(blob, tmp_path / "ann.bin")).read_bytes() == SECRET


async def test_offering_a_held_file_proves_possession_and_learns_nothing(
        tmp_path: Path, server: ChatServer, connect: ClientFactory) -> None:
    _, blob, _ = await vault(tmp_path, connect)
    mallory = await RawClient.open(server.address, "mallory", "General")
    unknown = blake3.blake3(b"never uploaded").hexdigest()
    mallory.send(p.OfferFile(room="General", cid="m1", name="loot.bin", size=len(SECRET), blob_id=blob, rid=1),
                 p.OfferFile(room="General", cid="m2", name="x.bin", size=len(SECRET), blob_id=unknown, rid=2))
    held, new = await mallory.answer(1), await mallory.answer(2)
    # Held or not, the same answer: send it all, from the start.
    assert held == p.UploadReady(blob_id=blob, offset=0, rid=1)
    assert new == p.UploadReady(blob_id=unknown, offset=0, rid=2)
    for off in range(0, len(SECRET), L.CHUNK_SIZE):  # the right size, not the right bytes
        mallory.send(p.FileChunk(blob_id=blob, offset=off, data=b"\0" * min(L.CHUNK_SIZE, len(SECRET) - off)))
    refused = await mallory.answer(1)
    assert isinstance(refused, p.Error) and refused.code == "file" and "does not match its id" in refused.message
    mallory.send(p.FetchFile(blob_id=blob, rid=3))
    fetched = await mallory.answer(3)
    assert isinstance(fetched, p.Error) and fetched.code == "no_file"
    assert server.store.last_seq("General") == 0  # nothing was posted
    assert server.blobs.path(blob).read_bytes() == SECRET  # nor the stored body touched

    # Whoever has the file sends it all and gets it posted where they are.
    bob = await connect("bob")
    await bob.join("General")
    copy = tmp_path / "copy.bin"
    copy.write_bytes(SECRET)
    sent: list[int] = []
    seq = await bob.upload("General", copy, progress=lambda done, total: sent.append(done))
    assert sent[0] == L.CHUNK_SIZE and sent[-1] == len(SECRET)
    assert bob.state.rooms["General"].by_seq[seq].file.blob_id == blob  # type: ignore[union-attr]
    assert (await bob.download(blob, tmp_path / "bob.bin")).read_bytes() == SECRET


async def test_someone_elses_unfinished_upload_is_not_theirs_to_continue(server: ChatServer) -> None:
    data = os.urandom(3 * L.CHUNK_SIZE)
    blob = blake3.blake3(data).hexdigest()
    offer = p.OfferFile(room="General", cid="c", name="draft.bin", size=len(data), blob_id=blob, rid=1)
    ann = await RawClient.open(server.address, "ann", "General")
    ann.send(offer, p.FileChunk(blob_id=blob, offset=0, data=data[:L.CHUNK_SIZE]))
    await ann.drained()
    # ann's upload is open and one chunk in: mallory starts from zero, and is not told
    # that someone is uploading this very file.
    mallory = await RawClient.open(server.address, "mallory", "General")
    mallory.send(offer)
    assert await mallory.answer(1) == p.UploadReady(blob_id=blob, offset=0, rid=1)
    await ann.hang_up(server)
    await mallory.hang_up(server)
    # ann herself resumes where she was.
    again = await RawClient.open(server.address, "ann", "General")
    again.send(offer)
    assert await again.answer(1) == p.UploadReady(blob_id=blob, offset=L.CHUNK_SIZE, rid=1)
    again.abort()


async def test_a_known_file_offered_with_a_false_size_is_refused(
        tmp_path: Path, server: ChatServer, connect: ClientFactory) -> None:
    tiny = tmp_path / "tiny.txt"
    tiny.write_bytes(b"four")
    ann = await connect("ann")
    await ann.join("General")
    seq = await ann.upload("General", tiny)
    blob = ann.state.rooms["General"].by_seq[seq].file.blob_id  # type: ignore[union-attr]
    await ann.close()
    await name_free(server, "ann")
    lie = 99 * 1024 * 1024
    # ann's own client (her key), lying
    raw = await RawClient.open(server.address, "ann", "General", identity=ann.identity)
    raw.send(p.OfferFile(room="General", cid="big", name="big.iso", size=lie, blob_id=blob, rid=1))
    refused = await raw.answer(1)
    assert isinstance(refused, p.Error) and refused.code == "file"
    assert refused.message == "this file is 4 bytes, not 99.0 MiB; offer it with its real size"
    # Anyone else who may read it (General is open) is refused just the same.
    bob = await RawClient.open(server.address, "bob", "Gaming")
    bob.send(p.OfferFile(room="Gaming", cid="big", name="big.iso", size=lie, blob_id=blob, rid=1))
    refused = await bob.answer(1)
    assert isinstance(refused, p.Error) and "this file is 4 bytes, not 99.0 MiB" in refused.message
    await raw.drained()
    assert server.store.last_seq("General") == 1 and server.store.last_seq("Gaming") == 0
    history, _ = server.store.history("General")
    assert [m.file.size for m in history if m.file] == [4]
    raw.abort()
    bob.abort()


def test_the_cli_downloads_a_locked_rooms_file_only_with_the_rooms_password(tmp_path: Path) -> None:
    srv = CliServer(tmp_path)
    try:
        host, port = srv.address.rsplit(":", 1)

        async def post() -> str:
            secret = tmp_path / "plan.txt"
            secret.write_bytes(b"the plan")
            async with ClientSession(host, int(port), "owner") as owner:
                await owner.create_room("Board", password=PASSWORD)
                seq = await owner.upload("Board", secret)
                return owner.state.rooms["Board"].by_seq[seq].file.blob_id  # type: ignore[union-attr]

        blob = asyncio.run(post())
        out = tmp_path / "got.txt"
        r = run("download", "--server", srv.address, blob, "-o", str(out))
        assert r.returncode == 1 and f"no file with id {blob}" in r.stderr and not out.exists()
        r = run("download", "--server", srv.address, blob, "-o", str(out), "--room", "Board",
                "--room-password", PASSWORD)
        assert r.returncode == 0, r.stderr
        assert out.read_bytes() == b"the plan"
    finally:
        srv.stop()
