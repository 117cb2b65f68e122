from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import blake3
import pytest
from PIL import Image

import pyrtc.protocol as p
from pyrtc.client import ClientSession, Identity, Rejected
from pyrtc.protocol import limits as L
from pyrtc.server import ChatServer

from ..conftest import ClientFactory, FakeClock, raw_open, server_config, signed_hello


def content_id(path: Path) -> str:
    """A file's id as the protocol defines it (computed here independently of pyrtc)."""
    return blake3.blake3(path.read_bytes()).hexdigest()


def files_under(root: Path) -> set[Path]:
    return {q for q in root.rglob("*") if q.is_file()}


async def test_upload_and_download_match(tmp_path: Path, connect: ClientFactory) -> None:
    src = tmp_path / "report.pdf"
    src.write_bytes(os.urandom(3 * L.CHUNK_SIZE + 123))
    ann, bob = await connect("ann"), await connect("bob")
    await ann.join("General")
    await bob.join("General")
    seen: list[tuple[int, int]] = []
    seq = await ann.upload("General", src, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (src.stat().st_size, src.stat().st_size)
    await bob.wait_for(lambda s: seq in s.rooms["General"].by_seq)
    info = bob.state.rooms["General"].by_seq[seq].file
    assert info is not None and info.name == "report.pdf" and info.mime == "application/pdf"
    out = await bob.download(info.blob_id, tmp_path / "got.pdf")
    assert content_id(out) == content_id(src) == info.blob_id
    assert bob.state.transfers[next(iter(bob.state.transfers))].state == "done"


async def test_cut_upload_resumes_where_the_server_is(tmp_path: Path, server: ChatServer,
                                                      connect: ClientFactory) -> None:
    data = os.urandom(6 * L.CHUNK_SIZE)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    digest = blake3.blake3(data).hexdigest()
    host, port = server.address
    # A client that offers, sends half, and vanishes.
    reader, writer = await raw_open(host, port)
    me = Identity.generate()
    writer.write(await signed_hello(reader, writer, "ann", identity=me))
    writer.write(p.encode(p.JoinRoom(room="General")))
    writer.write(p.encode(p.OfferFile(room="General", cid="c1", name="big.bin", size=len(data),
                                      blob_id=digest)))
    for off in range(0, 3 * L.CHUNK_SIZE, L.CHUNK_SIZE):
        writer.write(p.encode(p.FileChunk(blob_id=digest, offset=off, data=data[off:off + L.CHUNK_SIZE])))
    writer.write(p.encode(p.Ping(nonce=7)))
    dec = p.client_decoder()
    async with asyncio.timeout(5):  # the pong proves every chunk before it was handled
        while not any(isinstance(m, p.Pong) for m in dec.feed(await reader.read(65536))):
            pass
    writer.transport.abort()
    assert server.blobs.begin(digest, len(data), server.blobs.owner_tag(me.uid)) == 3 * L.CHUNK_SIZE
    assert not server.blobs.has(digest)  # a partial file is never shown as complete

    ann = await connect("ann", identity=me)
    await ann.join("General")
    sent: list[int] = []
    seq = await ann.upload("General", src, progress=lambda d, t: sent.append(d))
    assert sent[0] == 4 * L.CHUNK_SIZE  # the first chunk sent was the fourth
    assert server.blobs.path(digest).read_bytes() == data
    assert ann.state.rooms["General"].by_seq[seq].file.blob_id == digest  # type: ignore[union-attr]


async def test_broken_download_resumes_from_the_part_file(tmp_path: Path, connect: ClientFactory) -> None:
    data = os.urandom(5 * L.CHUNK_SIZE + 7)
    src = tmp_path / "a.bin"
    src.write_bytes(data)
    ann = await connect("ann")
    await ann.join("General")
    seq = await ann.upload("General", src)
    blob = ann.state.rooms["General"].by_seq[seq].file.blob_id  # type: ignore[union-attr]
    target = tmp_path / "out.bin"
    (tmp_path / "out.bin.part").write_bytes(data[: 2 * L.CHUNK_SIZE])  # what a broken run left
    got: list[int] = []
    await ann.download(blob, target, progress=lambda d, t: got.append(d))
    assert target.read_bytes() == data
    assert got[0] == 3 * L.CHUNK_SIZE  # started after the part it had


async def test_oversize_file_is_refused_before_any_byte_is_stored(tmp_path: Path) -> None:
    async with ChatServer(server_config(tmp_path / "d", max_file=1000)) as srv:
        host, port = srv.address
        big = tmp_path / "big.bin"
        big.write_bytes(b"x" * 1001)
        before = files_under(tmp_path / "d" / "files")
        async with ClientSession(host, port, "ann") as ann:
            await ann.join("General")
            ann.state.max_file = 0  # skip the client's own check: the server must refuse too
            with pytest.raises(Rejected, match="accepts up to 1000 bytes"):
                await ann.upload("General", big)
        assert files_under(tmp_path / "d" / "files") == before


@pytest.mark.parametrize("hostile", [
    "../../etc/passwd", "..\\..\\windows\\system32", "nul\x00byte.txt", "new\nline\r.txt",
    "x" * 10_000 + ".txt", "/abs/path.sh", "....", "",
])
async def test_hostile_file_names_are_display_text_only(tmp_path: Path, server: ChatServer,
                                                        connect: ClientFactory, hostile: str) -> None:
    src = tmp_path / "payload.bin"
    src.write_bytes(b"payload")
    ann = await connect("ann")
    await ann.join("General")
    seq = await ann.upload("General", src, name=hostile)
    info = ann.state.rooms["General"].by_seq[seq].file
    assert info is not None
    assert "/" not in info.name and "\\" not in info.name and info.name.isprintable()
    assert 0 < len(info.name) <= L.MAX_FILE_NAME
    data_dir = server.config.data_dir.resolve()
    for f in files_under(tmp_path):
        if f.read_bytes() == b"payload" and f != src:
            assert f.resolve().is_relative_to(data_dir)
    assert not Path("/etc/passwd").read_bytes().startswith(b"payload")


async def test_raw_ten_thousand_character_name_is_a_clear_error(server: ChatServer) -> None:
    host, port = server.address
    reader, writer = await raw_open(host, port)
    writer.write(await signed_hello(reader, writer, "ann"))
    writer.write(p.encode(p.OfferFile(room="General", cid="c", name="x" * 10_000, size=1,
                                      blob_id="a" * 64)))
    dec = p.client_decoder()
    got: list[p.ServerMsg] = []
    async with asyncio.timeout(5):
        while not any(isinstance(m, p.Error) for m in got):
            got += dec.feed(await reader.read(65536))
    err = next(m for m in got if isinstance(m, p.Error))
    assert err.fatal and "$.name" in err.message and "1024" in err.message
    writer.close()


async def test_picture_gets_a_thumbnail_and_a_fake_one_does_not(tmp_path: Path, server: ChatServer,
                                                                connect: ClientFactory) -> None:
    pic = tmp_path / "cat.png"
    Image.new("RGB", (800, 600), (10, 120, 230)).save(pic)
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg" * 50)
    ann = await connect("ann")
    await ann.join("General")
    s1 = await ann.upload("General", pic)
    s2 = await ann.upload("General", fake)
    room = ann.state.rooms["General"]
    real, bogus = room.by_seq[s1].file, room.by_seq[s2].file
    assert real is not None and real.thumb_id and (real.width, real.height) == (800, 600)
    assert bogus is not None and bogus.thumb_id is None and bogus.mime == "application/octet-stream"
    thumb = await ann.download(real.thumb_id, tmp_path / "thumb.png")
    im = Image.open(io.BytesIO(thumb.read_bytes()))
    assert max(im.size) <= 320 and im.getpixel((5, 5))[:3] == (10, 120, 230)


async def test_unknown_file_id_is_refused(tmp_path: Path, connect: ClientFactory) -> None:
    ann = await connect("ann")
    with pytest.raises(Rejected, match="no file with id"):
        await ann.download("e" * 64, tmp_path / "x")
    assert not (tmp_path / "x").exists()


async def test_same_file_twice_is_stored_once(tmp_path: Path, server: ChatServer,
                                              connect: ClientFactory) -> None:
    src = tmp_path / "dup.bin"
    src.write_bytes(os.urandom(1000))
    ann = await connect("ann")
    await ann.join("General")
    await ann.upload("General", src)
    sent: list[int] = []
    await ann.upload("General", src, progress=lambda d, t: sent.append(d))
    assert sent == []  # the server had every byte already
    assert server.store.last_seq("General") == 2


async def test_file_count_per_user_is_limited_per_day(tmp_path: Path) -> None:
    wall = FakeClock()
    files = []
    for i in range(4):
        files.append(tmp_path / f"f{i}.txt")
        files[-1].write_bytes(f"file {i}".encode())
    async with ChatServer(server_config(tmp_path / "d", max_files=2), wall=wall) as srv:
        async with ClientSession(*srv.address, "ann") as ann, \
                ClientSession(*srv.address, "bob", identity=Identity.generate()) as bob:  # another person
            await ann.join("General")
            await bob.join("General")
            await ann.upload("General", files[0])
            await ann.upload("General", files[1])
            with pytest.raises(Rejected, match=r"you shared 2 files in the last 24 hours; this server "
                                               r"allows 2 per user \(server --max-files\)") as refused:
                await ann.upload("General", files[2])
            assert refused.value.code == "file_quota"
            # Others keep sharing, and ann keeps chatting.
            await bob.upload("General", files[2])
            assert await ann.send("General", "still here") == 4
    # The count comes from the store: a restart does not reset it; a day later it has.
    async with ChatServer(server_config(tmp_path / "d", max_files=2), wall=wall) as srv:
        async with ClientSession(*srv.address, "ann") as ann:
            await ann.join("General")
            with pytest.raises(Rejected, match="you shared 2 files"):
                await ann.upload("General", files[3])
            wall.advance(24 * 3600 + 1)
            assert await ann.upload("General", files[3]) == 5


async def test_uploads_in_progress_per_connection_are_limited(tmp_path: Path) -> None:
    async with ChatServer(server_config(tmp_path / "d", max_uploads=2)) as srv:
        reader, writer = await raw_open(*srv.address)
        offers = [p.OfferFile(room="General", cid=f"c{i}", name=f"f{i}", size=10,
                              blob_id=blake3.blake3(str(i).encode()).hexdigest(), rid=i + 1) for i in range(3)]
        writer.write(await signed_hello(reader, writer, "ann")
                     + p.encode(p.JoinRoom(room="General"))
                     + b"".join(p.encode(o) for o in offers)
                     + p.encode(offers[0]) + p.encode(p.Ping(nonce=7)))  # a resume is no new upload
        dec = p.client_decoder()
        got: list[p.ServerMsg] = []
        async with asyncio.timeout(10):
            while not any(isinstance(m, p.Pong) for m in got):
                got += dec.feed(await reader.read(1 << 16))
        ready = [m.rid for m in got if isinstance(m, p.UploadReady)]
        errors = [m for m in got if isinstance(m, p.Error)]
        assert ready == [1, 2, 1]
        assert [(e.code, e.rid) for e in errors] == [("too_many_uploads", 3)]
        assert "2 uploads are in progress on this connection" in errors[0].message
        writer.close()


async def test_many_files_attached_at_once_wait_their_turn(tmp_path: Path, connect: ClientFactory) -> None:
    """More files than the server takes at once (4 per connection): the client queues them."""
    ann = await connect("ann")
    await ann.join("General")
    files = []
    for i in range(7):
        files.append(tmp_path / f"f{i}.bin")
        files[-1].write_bytes(os.urandom(L.CHUNK_SIZE * 3))
    seqs = await asyncio.gather(*(ann.upload("General", f) for f in files))
    assert sorted(seqs) == list(range(1, 8))
