"""Unfinished uploads do not fill the server's disk (issue 16, item 10).

An upload's `.part` used to stay forever, through restarts, and nothing bounded how many
bytes they claimed: five connections that each offered a file and went away left 200 MiB.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import blake3

import pyrtc.protocol as p
from pyrtc.protocol import limits as L
from pyrtc.server import ChatServer

from ..conftest import FakeClock, server_config
from .raw import RawClient

HOUR = 3600.0
SIZE = 4 * L.CHUNK_SIZE  # what each test upload claims


def parts(srv: ChatServer) -> list[Path]:
    return sorted((srv.config.data_dir / "files" / "uploads").glob("*.part"))


def a_file(n: int) -> tuple[bytes, str]:
    data = n.to_bytes(4, "big") * (SIZE // 4)
    return data, blake3.blake3(data).hexdigest()


async def offer(srv: ChatServer, name: str, n: int, *, chunks: int = 1) -> tuple[RawClient, p.ServerMsg]:
    """`name` offers test file n and sends its first `chunks` chunks if the offer is taken:
    (the open connection, the answer to the offer)."""
    data, blob = a_file(n)
    raw = await RawClient.open(srv.address, name, "General")
    raw.send(p.OfferFile(room="General", cid=f"c{n}", name=f"f{n}.bin", size=SIZE, blob_id=blob, rid=1))
    answer = await raw.answer(1)
    if isinstance(answer, p.UploadReady):
        for off in range(0, chunks * L.CHUNK_SIZE, L.CHUNK_SIZE):
            raw.send(p.FileChunk(blob_id=blob, offset=off, data=data[off:off + L.CHUNK_SIZE]))
    await raw.drained()
    return raw, answer


async def leave_half_done(srv: ChatServer, name: str, n: int) -> None:
    raw, answer = await offer(srv, name, n)
    assert isinstance(answer, p.UploadReady), answer
    await raw.hang_up(srv)


def clocks() -> tuple[FakeClock, FakeClock]:
    """(monotonic, wall): the wall clock starts now, as the files' modification times do."""
    wall = FakeClock()
    wall.now = time.time()
    return FakeClock(), wall


def advance(seconds: float, *both: FakeClock) -> None:
    for c in both:
        c.advance(seconds)


async def test_an_unfinished_upload_expires_after_its_last_write(tmp_path: Path) -> None:
    mono, wall = clocks()
    async with ChatServer(server_config(tmp_path / "d"), clock=mono, wall=wall) as srv:
        ttl = srv.config.unfinished_ttl
        assert ttl >= 6 * HOUR  # an upload broken by a short outage still resumes
        await leave_half_done(srv, "ann", 1)
        [part] = parts(srv)
        advance(ttl / 2, mono, wall)
        srv.sweep()
        assert parts(srv) == [part]
        # A write moves its expiry: resumed, one more chunk, broken again.
        raw, answer = await offer(srv, "ann", 1, chunks=0)
        assert answer == p.UploadReady(blob_id=a_file(1)[1], offset=L.CHUNK_SIZE, rid=1)
        data, blob = a_file(1)
        raw.send(p.FileChunk(blob_id=blob, offset=L.CHUNK_SIZE, data=data[L.CHUNK_SIZE:2 * L.CHUNK_SIZE]))
        await raw.drained()
        await raw.hang_up(srv)
        os.utime(part, (wall.now, wall.now))  # written "now" on the test's clock
        advance(ttl * 0.75, mono, wall)
        srv.sweep()
        assert parts(srv) == [part]
        advance(ttl * 0.5, mono, wall)
        srv.sweep()
        assert parts(srv) == []
        raw, answer = await offer(srv, "ann", 1, chunks=0)
        assert isinstance(answer, p.UploadReady) and answer.offset == 0
        await raw.hang_up(srv)


async def test_uploads_are_kept_over_a_restart_and_expired_ones_dropped_at_start(tmp_path: Path) -> None:
    mono, wall = clocks()
    cfg = server_config(tmp_path / "d")
    async with ChatServer(cfg, clock=mono, wall=wall) as srv:
        await leave_half_done(srv, "ann", 1)
    async with ChatServer(cfg, clock=mono, wall=wall) as srv:  # a restart: ann resumes
        raw, answer = await offer(srv, "ann", 1, chunks=0)
        assert isinstance(answer, p.UploadReady) and answer.offset == L.CHUNK_SIZE
        await raw.hang_up(srv)
        stray = parts(srv)[0].with_name("0" * 64 + "-10.part")  # left by an older version
        stray.write_bytes(b"x" * 10)
    advance(cfg.unfinished_ttl + HOUR, mono, wall)
    srv = ChatServer(cfg, clock=mono, wall=wall)  # not started: no housekeeping round yet
    try:
        assert parts(srv) == []
    finally:
        await srv.close()


async def test_unfinished_bytes_per_user_are_bounded(tmp_path: Path) -> None:
    cfg = server_config(tmp_path / "d", max_file=SIZE, max_unfinished_per_user=2 * SIZE)
    async with ChatServer(cfg) as srv:
        answers = []
        for n in range(5):  # five connections, each leaving an upload behind
            raw, answer = await offer(srv, "ann", n)
            answers.append(answer)
            await raw.hang_up(srv)
        assert [type(a) for a in answers] == [p.UploadReady] * 2 + [p.Error] * 3
        err = answers[2]
        assert isinstance(err, p.Error) and err.code == "unfinished_quota" and not err.fatal
        assert err.message == ("you have 2.0 MiB of unfinished uploads on this server, and this one "
                               "would take 1.0 MiB more; it allows 2.0 MiB per user (finish or "
                               "resume those first; unfinished ones expire 24 h after their last write)")
        assert len(parts(srv)) == 2
        # Finishing one makes room; others were never affected.
        await leave_half_done(srv, "bob", 7)
        data, blob = a_file(0)
        raw = await RawClient.open(srv.address, "ann", "General")
        raw.send(p.OfferFile(room="General", cid="c0", name="f0.bin", size=SIZE, blob_id=blob, rid=1))
        ready = await raw.answer(1)
        assert isinstance(ready, p.UploadReady) and ready.offset == L.CHUNK_SIZE
        for off in range(L.CHUNK_SIZE, SIZE, L.CHUNK_SIZE):
            raw.send(p.FileChunk(blob_id=blob, offset=off, data=data[off:off + L.CHUNK_SIZE]))
        await raw.until(lambda m: isinstance(m, p.Acked))
        await raw.hang_up(srv)
        raw, answer = await offer(srv, "ann", 3)
        assert isinstance(answer, p.UploadReady)
        await raw.hang_up(srv)


async def test_unfinished_bytes_on_the_server_are_bounded(tmp_path: Path) -> None:
    cfg = server_config(tmp_path / "d", max_file=SIZE, max_unfinished=2 * SIZE)
    async with ChatServer(cfg) as srv:
        await leave_half_done(srv, "ann", 1)  # left behind: nobody is writing it
        bob, answer = await offer(srv, "bob", 2)  # bob's is open
        assert isinstance(answer, p.UploadReady)
        # Full: carol's upload goes ahead in place of the one nobody is writing.
        carol, answer = await offer(srv, "carol", 3)
        assert isinstance(answer, p.UploadReady)
        assert len(parts(srv)) == 2
        raw, answer = await offer(srv, "ann", 1, chunks=0)
        assert isinstance(answer, p.Error) and answer.code == "unfinished_quota"
        assert answer.message == ("the server holds 2.0 MiB of unfinished uploads, all of them in "
                                  "progress, and allows 2.0 MiB; try again when some are done")
        await raw.hang_up(srv)
        await bob.hang_up(srv)
        # bob's went idle when his connection closed: dave's takes its place.
        dave, answer = await offer(srv, "dave", 4)
        assert isinstance(answer, p.UploadReady)
        for conn in (carol, dave):
            await conn.hang_up(srv)
