"""Soak: 500 clients chatting, uploading, dropping and stalling against one real server.

The server runs here, in this process, so that its memory, file handles and tasks can be
counted; the clients run in a subprocess (`python -m tests.soak`). Afterwards every
acknowledged message is in its room's history exactly once, with the seq its sender was
told, and the server is back where it started: no connection, task or file handle left,
memory near its level after a warm-up round. (Measured with tracemalloc on a 40 s run: the
Python heap ends 0.3 MiB above its start; the rest of the RSS difference is SQLite's page
cache and the C allocator's, and it stays flat over repeated rounds.)

Longer on demand: PYRTC_SOAK_SECONDS=600 PYRTC_SOAK_CLIENTS=1000 pytest tests/soak
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import logging
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pyrtc.server import ChatServer
from pyrtc.server.connection import Connection
from pyrtc.store import StoredMessage

from ..conftest import server_config

ROOT = Path(__file__).resolve().parents[2]
SECONDS = float(os.environ.get("PYRTC_SOAK_SECONDS", "25"))
CLIENTS = int(os.environ.get("PYRTC_SOAK_CLIENTS", "500"))


def rss_mib() -> float:
    """Resident memory after handing freed heap back to the OS: glibc keeps freed blocks
    (asyncio's 256 KiB TLS buffers, for one) for reuse, which is not memory in use."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def open_fds() -> list[str]:
    fds = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass  # the listing's own handle, already closed
    return sorted(fds)


async def drive(srv: ChatServer, out: Path, clients: int, seconds: float, **kw: int) -> dict[str, Any]:
    host, port = srv.address
    args = [sys.executable, "-m", "tests.soak", "--server", f"{host}:{port}", "--out", str(out),
            "--clients", str(clients), "--seconds", str(seconds)]
    if srv.fingerprint:
        args += ["--fingerprint", srv.fingerprint]
    for k, v in kw.items():
        args += [f"--{k}", str(v)]
    proc = await asyncio.create_subprocess_exec(*args, cwd=ROOT, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(seconds + 150):
        _, err = await proc.communicate()
    print(err.decode(errors="replace"))
    assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


async def quiet(srv: ChatServer) -> None:
    """Wait until the server has seen every connection go and finished their tasks."""
    async with asyncio.timeout(30):
        while srv.conns or srv.online or any(live.listeners for live in srv.bus.rooms()):
            await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # coalesced presence and receipt flushes run out
    gc.collect()


async def test_500_clients_soak_loses_nothing_and_leaks_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "pyrtc")  # the server logs bugs at ERROR; there must be none
    caplog.set_level(logging.WARNING, "pyrtc.server.connection")  # slow readers dropped
    # Real limits (flood control on), except the per-address one: every client is on 127.0.0.1.
    # A small backlog so that the clients that stop reading are dropped within the run.
    cfg = server_config(tmp_path / "d", max_rate=50, burst=200, max_backlog=128 * 1024)
    async with ChatServer(cfg) as srv:
        # Warm-up at full size: caches and the allocators' arenas reach their working size.
        await drive(srv, tmp_path / "warm.json", clients=CLIENTS, seconds=2, uploads=4, slow=1, seed=7)
        await quiet(srv)
        tasks0, fds0, rss0 = len(asyncio.all_tasks()), open_fds(), rss_mib()

        result = await drive(srv, tmp_path / "soak.json", clients=CLIENTS, seconds=SECONDS)
        await quiet(srv)
        tasks1, fds1, rss1 = len(asyncio.all_tasks()), open_fds(), rss_mib()

        counts = result["counts"]
        print(f"soak: {len(result['acked'])} messages and {len(result['files'])} files acknowledged; "
              f"{counts}; joined in {result['joined_s']:.1f} s; RSS {rss0:.1f} -> {rss1:.1f} MiB; "
              f"tasks {tasks0} -> {tasks1}; fds {len(fds0)} -> {len(fds1)}")
        assert result["problems"] == []
        # The run did what it says: the faults happened.
        assert len(result["acked"]) > CLIENTS * SECONDS / 4
        assert counts.get("connections cut", 0) > 50 and counts.get("clients vanished", 0) > 10
        assert counts.get("uploads cut midway", 0) >= 3 and len(result["files"]) >= 20
        dropped = [r for r in caplog.records if "stopped reading" in r.getMessage()]
        assert len(dropped) >= 3  # of the 5 that stopped reading (and caught up afterwards)

        # Every acknowledged message is stored exactly once, under the seq its sender was told.
        stored: dict[str, dict[int, StoredMessage]] = {}
        for room in {r for r, _, _ in result["acked"]}:
            msgs, _ = srv.store.history(room, limit=1_000_000)
            stored[room] = {m.seq: m for m in msgs}
            assert sorted(stored[room]) == list(range(1, len(msgs) + 1)), f"a gap in {room}"
            copies = Counter(m.text for m in msgs if m.text)
            assert max(copies.values()) == 1, f"a message stored twice in {room}"
        for room, text, seq in result["acked"]:
            assert stored[room][seq].text == text
        for room, sha, seq in result["files"]:
            file = stored[room][seq].file
            assert file is not None and file.blob_id == sha and srv.blobs.has(sha)

        # The server is back where it started.
        assert tasks1 <= tasks0
        assert fds1 == fds0
        assert all(not c.uploads for c in srv.conns)
        # No connection object outlives its client (rooms, names and timers let go of it).
        assert not [o for o in gc.get_objects() if isinstance(o, Connection)]
        assert rss1 - rss0 < 16, f"RSS grew {rss1 - rss0:.1f} MiB"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
