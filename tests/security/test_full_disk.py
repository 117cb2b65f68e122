"""A full disk (issue 16, item 13), staged for real: the server's data dir and logs on a small
tmpfs of its own (tests/security/smalldisk.py), filled while clients send and upload.

It used to go like this: the log line about the failed commit itself raised ENOSPC (the logs
are on the same disk), so the rollback and the answers were skipped; `pyrtc send` waited
30 s and said "timed out"; `pyrtc upload` got one ENOSPC and then a `no_offer` per chunk
and waited for an answer that never came; the server exited 1 on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import blake3
import pytest

import pyrtc.protocol as p
from pyrtc.protocol import limits as L

from ..cli.procs import run
from .raw import RawClient
from .smalldisk import SmallDisk, on_small_disk

FULL = "the server's disk is full; this message was not stored"
DISK_FULL = "disk_full"  # the wire code of ErrorCode.DISK_FULL


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    d = SmallDisk(tmp_path)
    yield d
    d.kill()


def history(disk: SmallDisk) -> list[dict[str, object]]:
    import json

    r = run("tail", "--server", disk.address, "--room", "General", "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def wait_for_line(path: Path, pattern: str, timeout: float = 30) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text(errors="replace") if path.exists() else ""
        if m := re.search(pattern, text):
            return m
        assert time.monotonic() < deadline, f"no {pattern!r} in {path}:\n{text[-2000:]}"
        time.sleep(0.1)


def test_send_and_upload_on_a_full_disk_fail_clearly_and_work_again_once_space_returns(
        disk: SmallDisk, tmp_path: Path) -> None:
    where = ("--server", disk.address, "--room", "General", "--name", "ann")
    assert run("send", *where, "before", timeout=60).returncode == 0
    disk.fill()

    # Far more than the database's journal has room for: some lines may still be taken
    # (acknowledged, so stored), and the first one refused ends the command.
    lines = "".join(f"line {i} {'x' * 4000}\n" for i in range(200))
    r = run("send", *where, stdin=lines, timeout=60)
    assert (r.returncode, r.stderr) == (1, f"pyrtc: the server refused: {FULL}\n")

    picture = tmp_path / "big.bin"
    picture.write_bytes(os.urandom(3 * 1024 * 1024))
    r = run("upload", *where, str(picture), timeout=60)
    assert r.returncode == 1
    assert len(r.stderr.splitlines()) == 1, r.stderr  # one clear error, not one per chunk
    assert r.stderr.startswith("pyrtc: the server refused: the server's disk is full"), r.stderr

    disk.free()  # no restart
    assert run("send", *where, "after", timeout=60).returncode == 0
    r = run("upload", *where, str(picture), timeout=60)
    assert r.returncode == 0, r.stderr
    messages = history(disk)
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))  # no gap
    texts = [m["text"] for m in messages]
    assert texts[0] == "before" and texts[-2] == "after"
    assert messages[-1]["file"] is not None and messages[-1]["file"]["size"] == 3 * 1024 * 1024  # type: ignore[index]
    assert all(str(t).startswith("line ") for t in texts[1:-2])  # those acknowledged
    # The log lines the full disk swallowed are counted, and said once it takes lines again.
    m = wait_for_line(disk.path("logs/chat.log"), r"WARNING pyrtc: (\d+) lines of this log were lost "
                                                  r"while it could not be written \(No space left on device\)")
    assert int(m[1]) > 0
    assert wait_for_line(disk.path("logs/chat.log"), r'message room=General seq=\d+ from=ann text="after"')
    status, out = disk.stop()
    assert (status, out) == (0, "PyRTC server stopped\n")
    assert "Traceback" not in disk.stderr()


async def test_each_message_sent_to_a_full_disk_is_stored_and_acknowledged_or_refused(disk: SmallDisk) -> None:
    raw = await RawClient.open(disk.host_port, "bob", "General")
    raw.send(p.SendText(room="General", cid="early", text="stored before"))
    early = await raw.until(lambda m: isinstance(m, p.Acked | p.Error) and m.cid == "early")
    assert isinstance(early, p.Acked)
    disk.fill()
    cids = [f"c{i}" for i in range(150)]
    # A resend of the stored one among them (a reconnect): acknowledged again whatever the disk.
    raw.send(*(p.SendText(room="General", cid=c, text=f"{c} {'y' * 4000}") for c in cids[:100]),
             p.SendText(room="General", cid="early", text="stored before"),
             *(p.SendText(room="General", cid=c, text=f"{c} {'y' * 4000}") for c in cids[100:]))
    answers: dict[str, p.ServerMsg] = {}
    for c in cids:
        answers[c] = await raw.until(lambda m, c=c: getattr(m, "cid", None) == c  # type: ignore[misc]
                                     and isinstance(m, p.Acked | p.Error))
    acked = {c: m.seq for c, m in answers.items() if isinstance(m, p.Acked)}
    refused = [m for m in answers.values() if isinstance(m, p.Error)]
    assert refused, "the disk was full: some messages must have been refused"
    assert {(m.code, m.message) for m in refused} == {(DISK_FULL, FULL)}
    again = await raw.until(lambda m: isinstance(m, p.Acked | p.Error) and m.cid == "early")
    assert again == early
    await raw.drained()
    assert sum(isinstance(m, p.Acked | p.Error) for m in raw.got) == len(cids) + 2  # one answer each

    disk.free()
    raw.send(p.SendText(room="General", cid="after", text="after"))
    after = await raw.until(lambda m: isinstance(m, p.Acked | p.Error) and m.cid == "after")
    assert isinstance(after, p.Acked)
    raw.send(p.GetHistory(room="General", limit=500, rid=7))
    page = await raw.answer(7)
    assert isinstance(page, p.HistoryPage)
    stored = {m.cid: m.seq for m in page.messages}
    assert stored == {"early": early.seq, **acked, "after": after.seq}  # every acknowledged one, at its seq
    assert sorted(stored.values()) == list(range(1, len(stored) + 1))
    raw.abort()


async def test_an_upload_cut_off_by_a_full_disk_gets_one_error_and_resumes_later(disk: SmallDisk) -> None:
    data = os.urandom(8 * L.CHUNK_SIZE)
    blob = blake3.blake3(data).hexdigest()
    raw = await RawClient.open(disk.host_port, "cid", "General")

    def offer(rid: int) -> p.OfferFile:
        return p.OfferFile(room="General", cid="up", name="cut.bin", size=len(data), blob_id=blob, rid=rid)

    def chunks(start: int) -> list[p.FileChunk]:
        return [p.FileChunk(blob_id=blob, offset=o, data=data[o:o + L.CHUNK_SIZE])
                for o in range(start, len(data), L.CHUNK_SIZE)]

    raw.send(offer(1))
    assert await raw.answer(1) == p.UploadReady(blob_id=blob, offset=0, rid=1)
    first, *rest = chunks(0)
    raw.send(first)
    await raw.drained()
    disk.fill()
    raw.send(*rest)
    await raw.drained()  # every chunk was handled
    errors = [m for m in raw.got if isinstance(m, p.Error)]
    assert len(errors) == 1, errors  # one error for the upload, none for each chunk after it
    assert (errors[0].code, errors[0].rid) == (DISK_FULL, 1)
    assert errors[0].message.startswith("the server's disk is full; this file was not stored"), errors[0]

    disk.free()
    raw.send(offer(2))
    ready = await raw.answer(2)
    assert isinstance(ready, p.UploadReady) and ready.offset >= L.CHUNK_SIZE  # what was written stayed
    raw.send(*chunks(ready.offset))
    done = await raw.until(lambda m: getattr(m, "cid", None) == "up")
    assert isinstance(done, p.Acked), done
    posted = await raw.until(lambda m: isinstance(m, p.Posted) and m.cid == "up")
    assert isinstance(posted, p.Posted) and posted.file is not None and posted.file.size == len(data)
    raw.abort()


async def test_sigterm_on_a_full_disk_still_stops_cleanly(disk: SmallDisk) -> None:
    raw = await RawClient.open(disk.host_port, "dee", "General")
    disk.fill()
    raw.send(*(p.SendText(room="General", cid=f"c{i}", text="z" * 4000) for i in range(100)))
    await raw.drained()
    status, out = await asyncio.to_thread(disk.stop)
    assert (status, out) == (0, "PyRTC server stopped\n"), disk.stderr()
    assert "Traceback" not in disk.stderr()
    raw.abort()


_SPILL = """
import json, sys
from pathlib import Path
from pyrtc.store import Store
from tests.security.smalldisk import fill

disk = Path(sys.argv[1])
store = Store(disk / "data" / "history.db")
store._db.execute("PRAGMA cache_size=10")  # a big moment spills out of the page cache soon
store.append("General", "ann", "first", "c0")
fill(disk / "filler")
out = {"appended": 0}
store.begin()
try:
    for i in range(1, 500):
        store.append("General", "ann", "x" * 3000, f"c{i}")
        out["appended"] += 1
except Exception as exc:
    out["append"] = type(exc).__name__
try:
    store.commit()
    out["commit"] = "ok"
except Exception as exc:
    out["commit"] = type(exc).__name__
    store.rollback()
(disk / "filler").unlink()
out["after"] = store.append("General", "ann", "after", "after").seq
out["stored"] = [c for (c,) in store._db.execute("SELECT cid FROM messages ORDER BY seq")]
print(json.dumps(out))
"""


def test_a_moment_sqlite_cancels_on_a_full_disk_fails_as_a_whole(tmp_path: Path) -> None:
    """Messages of one moment that overflow SQLite's page cache are written before the commit;
    on a full disk SQLite then cancels the whole transaction. The commit must fail for all of
    them, not succeed on what is left (that acknowledged messages that were never stored)."""
    import json

    r = on_small_disk(tmp_path, _SPILL)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["append"] == "DiskFull" and out["appended"] > 0, out  # some taken before the one refused
    assert out["commit"] == "DiskFull", out
    assert (out["after"], out["stored"]) == (2, ["c0", "after"])
