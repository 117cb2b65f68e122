"""Uploads are not a way to run code on the server or to exhaust it (issue 16, items 3 and 9).

Every upload used to go through Pillow whatever its type: PostScript sent as a text file
made the server run Ghostscript, broken pictures of some formats raised what nobody caught
(the upload was never acknowledged and held one of the connection's upload slots), and a
small PNG of many pixels was decoded inside the server process.
"""

from __future__ import annotations

import asyncio
import io
import os
import stat
from pathlib import Path

import blake3
import pytest
from PIL import Image

import pyrtc.protocol as p
from pyrtc.client import ClientSession
from pyrtc.server import ChatServer

from ..cli.test_cli import Server
from ..conftest import ClientFactory, server_config
from .crafted import BROKEN, EPS, write_blank_png
from .raw import RawClient

#: Generous: an upload of a few KiB is acknowledged in milliseconds; one that never is fails
#: the test instead of hanging it.
ACK = 60


def fake_ghostscript(tmp_path: Path) -> tuple[Path, Path]:
    """A `gs` that leaves a marker file when run (and fails to draw anything); returns
    (its folder, the marker)."""
    folder, marker = tmp_path / "bin", tmp_path / "ghostscript-ran"
    folder.mkdir()
    gs = folder / "gs"
    gs.write_text(f"#!/bin/sh\necho \"$@\" >> '{marker}'\n[ \"$1\" = --version ] && exit 0\nexit 1\n")
    gs.chmod(gs.stat().st_mode | stat.S_IXUSR)
    return folder, marker


async def test_postscript_named_txt_is_a_plain_file_and_never_runs_ghostscript(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, marker = fake_ghostscript(tmp_path)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    srv = Server(tmp_path)  # the real `pyrtc server`; its PATH finds the fake gs first
    try:
        hello = tmp_path / "hello.txt"
        hello.write_bytes(EPS)
        host, port = srv.address.rsplit(":", 1)
        async with ClientSession(host, int(port), "mallory") as s:
            await s.join("General")
            async with asyncio.timeout(ACK):
                seq = await s.upload("General", hello)
            info = s.state.rooms["General"].by_seq[seq].file
            assert info is not None and info.thumb_id is None and info.mime == "text/plain"
    finally:
        code, _ = srv.stop()
    assert code == 0
    assert not marker.exists(), "the server ran Ghostscript on an upload"


@pytest.mark.parametrize("kind", sorted(BROKEN))
async def test_broken_picture_is_a_plain_file_and_frees_its_upload_slot(
        tmp_path: Path, server: ChatServer, connect: ClientFactory, kind: str) -> None:
    ann = await connect("ann")
    await ann.join("General")
    slots = server.config.max_uploads
    for i in range(slots + 2):  # more than the connection's slots: each must come back
        path = tmp_path / f"broken{i}.{kind.split('-')[0]}"
        path.write_bytes(BROKEN[kind] + bytes([i]) * i)  # each one a different file
        async with asyncio.timeout(ACK):
            seq = await ann.upload("General", path)
        info = ann.state.rooms["General"].by_seq[seq].file
        assert info is not None and info.thumb_id is None and info.size == path.stat().st_size
    assert [c.uploads for c in server.conns] == [{}]
    # The server still makes thumbnails of real pictures.
    pic = tmp_path / "ok.png"
    Image.new("RGB", (64, 48), (1, 2, 3)).save(pic)
    seq = await ann.upload("General", pic)
    assert ann.state.rooms["General"].by_seq[seq].file.thumb_id  # type: ignore[union-attr]


def _picture(path: Path, fmt: str) -> Path:
    Image.new("RGB", (400, 300), (200, 30, 40)).save(path, fmt)
    return path


async def test_only_png_jpeg_gif_and_webp_get_thumbnails(tmp_path: Path, connect: ClientFactory) -> None:
    ann = await connect("ann")
    await ann.join("General")
    for fmt, thumbed in (("PNG", True), ("JPEG", True), ("GIF", True), ("WEBP", True),
                         ("BMP", False), ("TIFF", False), ("PPM", False), ("ICO", False)):
        path = _picture(tmp_path / f"pic.{fmt.lower()}", fmt)
        async with asyncio.timeout(ACK):
            seq = await ann.upload("General", path)
        info = ann.state.rooms["General"].by_seq[seq].file
        assert info is not None and bool(info.thumb_id) is thumbed, fmt
        if thumbed:
            assert info.thumb_id is not None and (info.width, info.height) == (400, 300)
            thumb = await ann.download(info.thumb_id, tmp_path / f"thumb-{fmt}.png")
            with Image.open(io.BytesIO(thumb.read_bytes())) as im:
                assert im.format == "PNG" and im.size == (320, 240)
        else:
            assert info.mime == "application/octet-stream"  # not shown as a picture


def peak_rss(pid: int) -> int:
    """The process's peak resident memory so far, in bytes (Linux: VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


async def test_a_png_of_forty_million_pixels_does_not_grow_the_server(tmp_path: Path) -> None:
    """6,320 x 6,320 px in a ~120 KiB file: decoding it takes 114 MiB (RGB) and more to
    convert. The server's peak memory may grow by 40 MiB at most for the whole upload:
    under half of that decode, well over what receiving a small file costs (chunk buffers,
    TLS records, a thumbnail of at most 320 x 320 px coming back)."""
    srv = Server(tmp_path)
    try:
        host, port = srv.address.rsplit(":", 1)
        big = tmp_path / "big.png"
        write_blank_png(big, 6320, 6320)
        small = _picture(tmp_path / "small.png", "PNG")
        async with ClientSession(host, int(port), "ann") as ann:
            await ann.join("General")
            async with asyncio.timeout(ACK):  # everything an upload touches, touched once
                await ann.upload("General", small)
            before = peak_rss(srv.proc.pid)
            async with asyncio.timeout(ACK):
                seq = await ann.upload("General", big)
            after = peak_rss(srv.proc.pid)
            info = ann.state.rooms["General"].by_seq[seq].file
            assert info is not None and info.size == big.stat().st_size
            # Within the pixel limit: it gets its thumbnail (made outside the server).
            assert info.thumb_id and (info.width, info.height) == (6320, 6320)
        assert after - before < 40 * 1024 * 1024, f"the server grew by {(after - before) >> 20} MiB"
    finally:
        srv.stop()


def stuck_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the thumbnail workers ones that never answer (what a decoder caught in a loop
    looks like); returns the file where each writes its pid."""
    from pyrtc.store import thumbnailer

    pids = tmp_path / "stuck.pid"
    stuck = tmp_path / "stuck.py"
    stuck.write_text(f"import os, time\nopen({str(pids)!r}, 'w').write(str(os.getpid()))\n"
                     "time.sleep(10**6)\n")
    real = thumbnailer.worker_command
    monkeypatch.setattr(thumbnailer, "worker_command", lambda memory: [real(memory)[0], str(stuck)])
    return pids


async def gone(pid: int) -> None:
    """Return once process `pid` no longer exists (killed and reaped)."""
    with pytest.raises(ProcessLookupError):
        async with asyncio.timeout(ACK):
            while True:
                os.kill(pid, 0)
                await asyncio.sleep(0.02)


async def test_a_stuck_thumbnail_worker_is_killed_and_the_file_posted_plain(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that does not answer within the thumbnail time limit is killed; the picture
    is posted without a thumbnail, and the next one gets its thumbnail from a fresh worker."""
    pids = stuck_worker(tmp_path, monkeypatch)
    # The product's default limit: the stuck worker costs the test its 10 s, and the fresh
    # worker (a process starting, Pillow imported) has them too on a starved machine.
    async with ChatServer(server_config(tmp_path / "d", thumb_timeout=10.0)) as srv:
        async with ClientSession(*srv.address, "ann") as ann:
            await ann.join("General")
            async with asyncio.timeout(ACK):
                seq = await ann.upload("General", _picture(tmp_path / "first.png", "PNG"))
            info = ann.state.rooms["General"].by_seq[seq].file
            assert info is not None and info.thumb_id is None and info.mime == "application/octet-stream"
            await gone(int(pids.read_text()))
            monkeypatch.undo()
            second = tmp_path / "second.png"
            Image.new("RGB", (64, 64), (9, 9, 9)).save(second)
            async with asyncio.timeout(ACK):
                seq = await ann.upload("General", second)
            assert ann.state.rooms["General"].by_seq[seq].file.thumb_id  # type: ignore[union-attr]


async def test_an_upload_cut_while_its_thumbnail_is_made_resumes_without_resending(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pids = stuck_worker(tmp_path, monkeypatch)
    pic = _picture(tmp_path / "pic.png", "PNG")
    data = pic.read_bytes()
    blob = blake3.blake3(data).hexdigest()
    offer = p.OfferFile(room="General", cid="c1", name="pic.png", size=len(data), blob_id=blob,
                        mime="image/png", rid=1)
    async with ChatServer(server_config(tmp_path / "d", thumb_timeout=3600.0)) as srv:
        ann = await RawClient.open(srv.address, "ann", "General")
        ann.send(offer, p.FileChunk(blob_id=blob, offset=0, data=data))
        async with asyncio.timeout(ACK):  # the worker has the picture: the upload is finishing
            while not pids.exists() or not pids.read_text():
                await asyncio.sleep(0.02)
        await ann.hang_up(srv)
        await gone(int(pids.read_text()))  # the cut upload's worker does not linger
        monkeypatch.undo()
        again = await RawClient.open(srv.address, "ann", "General")
        again.send(offer)
        assert await again.answer(1) == p.UploadReady(blob_id=blob, offset=len(data), rid=1)
        posted = await again.until(lambda m: isinstance(m, p.Posted))
        assert isinstance(posted, p.Posted) and posted.file is not None and posted.file.thumb_id
        await again.hang_up(srv)


async def test_a_worker_out_of_memory_means_a_plain_file(tmp_path: Path) -> None:
    """96 MiB of address space: enough for Python and Pillow (~30 MiB here), not for the
    114 MiB of a 6,320 x 6,320 RGB picture. Small pictures still get thumbnails."""
    big = tmp_path / "big.png"
    write_blank_png(big, 6320, 6320)
    async with ChatServer(server_config(tmp_path / "d", thumb_memory=96 * 1024 * 1024)) as srv:
        async with ClientSession(*srv.address, "ann") as ann:
            await ann.join("General")
            async with asyncio.timeout(ACK):
                seq = await ann.upload("General", big)
            assert ann.state.rooms["General"].by_seq[seq].file.thumb_id is None  # type: ignore[union-attr]
            async with asyncio.timeout(ACK):
                seq = await ann.upload("General", _picture(tmp_path / "small.png", "PNG"))
            assert ann.state.rooms["General"].by_seq[seq].file.thumb_id  # type: ignore[union-attr]
