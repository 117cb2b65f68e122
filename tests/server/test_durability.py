"""A message acknowledged with ✓ sent is in the store, whatever happens to the server after."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pyrtc.protocol as p

from ..conftest import raw_open, signed_hello


def _start(data: Path, logs: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-m", "pyrtc", "server", "--host", "127.0.0.1", "--port", "0",
                             "--no-announce", "--data-dir", str(data), "--log-dir", str(logs),
                             "--max-rate", "0"],  # a burst on purpose
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    m = re.search(r"listening on 127\.0\.0\.1:(\d+)", proc.stdout.readline())
    assert m
    return proc, int(m.group(1))


async def test_kill_9_during_a_burst_loses_no_acknowledged_message(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    proc, port = _start(data, logs)
    acked: dict[str, int] = {}
    reader, writer = await raw_open("127.0.0.1", port)
    writer.write(await signed_hello(reader, writer, "burst")
                 + p.encode(p.JoinRoom(room="General")))
    dec = p.client_decoder()
    killed = False
    sent = 0
    try:
        async with asyncio.timeout(120):  # a safety net: the kill comes after 2,000 acks
            while True:
                if sent < 20_000:  # keep the server busy: a burst in flight when it dies
                    writer.write(b"".join(p.encode(p.SendText(room="General", cid=f"c{sent + i}",
                                                              text=f"m{sent + i}")) for i in range(200)))
                    sent += 200
                try:
                    data_in = await asyncio.wait_for(reader.read(1 << 16), 0.5)
                except TimeoutError:
                    continue  # nothing to read yet (a slow start): send more, read again
                except (ConnectionError, OSError):
                    break
                if not data_in:
                    break
                for msg in dec.feed(data_in):
                    if isinstance(msg, p.Acked):
                        acked[msg.cid] = msg.seq
                if not killed and len(acked) >= 2000:
                    os.kill(proc.pid, signal.SIGKILL)  # mid-burst, no chance to clean up
                    killed = True
    except TimeoutError:
        pass
    proc.wait(10)
    assert killed and proc.returncode == -signal.SIGKILL
    assert len(acked) >= 2000
    db = sqlite3.connect(data / "history.db")  # reads the WAL too, as a restarted server would
    stored = dict(db.execute("SELECT cid, seq FROM messages WHERE room = 'General'").fetchall())
    missing = [c for c in acked if c not in stored]
    assert missing == []  # every ✓ is on disk
    assert all(stored[c] == s for c, s in acked.items())  # with the seq that was acknowledged
    seqs = sorted(stored.values())
    assert seqs == list(range(1, len(seqs) + 1))  # and nothing half-written: no gap
    db.close()
    # The server starts again on that store and serves it.
    proc, port = _start(data, logs)
    try:
        reader, writer = await raw_open("127.0.0.1", port)
        writer.write(await signed_hello(reader, writer, "after")
                     + p.encode(p.JoinRoom(room="General")))
        dec = p.client_decoder()
        async with asyncio.timeout(10):
            while True:
                joined = [m for m in dec.feed(await reader.read(1 << 16)) if isinstance(m, p.Joined)]
                if joined:
                    assert joined[0].last_seq == len(seqs)
                    break
        writer.close()
    finally:
        proc.terminate()
        proc.wait(10)
