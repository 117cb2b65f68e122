"""`python -m tests.benchmarks handover`: how long a chat is without a host when its host quits
or crashes, whether anything is lost, how long a returning peer takes to sync, and how long
`pyrtc` takes from launch to chatting (joining, hosting).

The gaps are measured with real sessions and servers on 127.0.0.1 in this process (the peers'
code is the one `pyrtc` runs: ClientSession + Continuity + AnnouncedServer, without mDNS);
launch → chatting runs real `pyrtc` processes in network namespaces (root)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from pyrtc.client import ClientSession, Identity
from pyrtc.discovery import AnnouncedServer
from pyrtc.discovery.continuity import Continuity
from pyrtc.discovery.peers import PeerReport
from pyrtc.server import ServerConfig

from .scenarios import Ctx, Row, _pct

__all__ = ["handover"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _peer(tmp: Path, name: str, me: Identity, where: tuple[str, int], port: int,
                hosted: AnnouncedServer | None = None) -> tuple[ClientSession, Continuity]:
    root = tmp / name / "chats"
    s = ClientSession(*where, name, identity=me, backoff=(0.05, 0.5))
    s.keep_replica(root)
    s.peer = PeerReport(me.uid, name, ["127.0.0.1"], port, root=root)
    c = Continuity(s, name=name, can_host=True, port=port, announce=None, on_line=lambda _: None,
                   hosted=hosted, root=root)
    s.on_event = c.on_event
    await s.connect()
    await s.join("General")
    return s, c


async def _trial(tmp: Path, crash: bool) -> tuple[float, int]:
    """One host change with three peers: (seconds from quit/kill to a message through the new
    host delivered to both others, acknowledged messages lost)."""
    ids = [Identity.generate() for _ in range(3)]
    ids.sort(key=lambda i: i.uid)
    ann_id = ids[0]  # the host has the lowest id: the others elect between themselves
    cfg = ServerConfig(host="127.0.0.1", port=_port(), data_dir=tmp / "ann-server", name="bench", max_rate=0,
                       max_per_address=0, node=ann_id.uid, addresses=["127.0.0.1"])
    hosted = AnnouncedServer(cfg, None)
    await hosted.start()
    peers = [await _peer(tmp, "ann", ann_id, hosted.server.address, hosted.server.address[1], hosted)]
    for name, me in (("bob", ids[1]), ("cy", ids[2])):
        peers.append(await _peer(tmp, name, me, hosted.server.address, _port()))
    (ann, ann_c), (bob, bob_c), (cy, cy_c) = peers
    await ann.wait_for(lambda s: s.roster is not None and len(s.roster.peers) == 3, timeout=10)
    acked: list[str] = []
    for i in range(10):
        for who, s in (("ann", ann), ("bob", bob), ("cy", cy)):
            await s.send("General", f"{who} {i}")
            acked.append(f"{who} {i}")
    t0 = time.perf_counter()
    if crash:
        ann_c.hosted = None
        ann_c.closing = True
        # Every connection cut at once, no word (as kill -9): `close` aborts them before it
        # awaits anything; what it does after (thumbnail workers) is no one's gap.
        leaving = asyncio.ensure_future(hosted.server.close())
        await asyncio.sleep(0)
    else:
        leaving = asyncio.ensure_future(ann_c.quit())
        # cy sends as soon as it heard the hand-over (its connection to ann is closed then):
        # the text goes through the new host.
        await cy.wait_for(lambda st: "leaving" in st.notice, timeout=10)
    seq = await cy.send("General", "first through the new host", timeout=30)
    for s in (bob, cy):
        await s.wait_for(lambda st: seq in st.rooms["General"].by_seq, timeout=30)
    gap = time.perf_counter() - t0
    await leaving
    await ann.close()
    held = {m.text for m in bob.state.rooms["General"].messages if m.seq}
    lost = len([t for t in acked if t not in held])
    for s, c in ((bob, bob_c), (cy, cy_c)):
        c.closing = True
        await s.close()
        if c.hosted is not None:
            await c.hosted.close()
    if not crash:
        await hosted.close()
    return gap, lost


async def _sync(tmp: Path, n: int) -> float:
    """A peer away while `n` messages were posted comes back: seconds until it holds them all."""
    cfg = ServerConfig(host="127.0.0.1", port=0, data_dir=tmp / "sync-server", name="bench", max_rate=0,
                       max_per_address=0)
    hosted = AnnouncedServer(cfg, None)
    await hosted.start()
    me, root = Identity.generate(), tmp / "returning"
    s = ClientSession(*hosted.server.address, "dora", identity=me)
    s.keep_replica(root)
    await s.connect()
    await s.join("General")
    await s.send("General", "before I left")
    await s.close()
    hosted.server.store.bulk_append("General", ((f"u{i % 50}", f"message {i}") for i in range(n)))
    last = hosted.server.store.last_seq("General")
    t0 = time.perf_counter()
    back = ClientSession(*hosted.server.address, "dora", identity=me)
    back.keep_replica(root, hosted.server.server_id)
    await back.connect()
    await back.wait_for(lambda st: st.rooms["General"].synced >= last, timeout=120)
    took = time.perf_counter() - t0
    await back.close()
    await hosted.close()
    return took


def _launch(ctx: Ctx, trials: int) -> list[Row]:
    """Real `pyrtc --no-gui` processes in namespaces: launch → the chat prompt, hosting (nobody
    there) and joining (a chat exists)."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        ctx.log("  launch → chatting skipped: needs root and iproute2 for network namespaces")
        return []
    from tests.discovery.netlab import Lab

    py = [sys.executable, "-m", "pyrtc", "--no-gui"]
    hosting, joining = [], []
    for t in range(trials):
        lab = Lab(f"ho{t}")
        try:
            lab.bridge("br")
            for i in (1, 2):
                lab.node(f"n{i}")
                lab.plug(f"n{i}", "br", f"10.77.0.{i}/24")
            procs = []
            for node, name, extra, out in (("n1", "Host", ["--host-if-none"], hosting), ("n2", "Joiner", [], joining)):
                home = ctx.tmp / f"launch{t}-{node}"
                t0 = time.monotonic()
                proc = lab.popen(node, ["env", f"PYRTC_SETTINGS={home}/settings.json", *py, "--name", name, *extra,
                                        "--data-dir", str(home / "server"), "--log-dir", str(home / "logs")],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                procs.append(proc)
                assert proc.stdout is not None
                for line in proc.stdout:
                    if f"you are {name}" in line:
                        out.append(time.monotonic() - t0)
                        break
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(30)
        finally:
            lab.close()
    return [("handover", "PyRTC", "launch → chatting, hosting (p50)", _pct(hosting, 0.5), "s"),
            ("handover", "PyRTC", "launch → chatting, joining (p50)", _pct(joining, 0.5), "s")]


def handover(ctx: Ctx) -> list[Row]:
    trials = 10 if ctx.quick else 20
    rows: list[Row] = []
    for crash in (False, True):
        gaps, lost = [], 0
        for t in range(trials):
            where = ctx.tmp / f"ho-{'crash' if crash else 'planned'}-{t}"
            gap, gone = asyncio.run(_trial(where, crash))
            gaps.append(gap)
            lost += gone
        kind = "crash" if crash else "planned"
        ctx.log(f"  {kind}: p50 {_pct(gaps, 0.5) * 1000:.0f} ms, p99 {_pct(gaps, 0.99) * 1000:.0f} ms, lost {lost}")
        rows += [("handover", "PyRTC", f"{kind} gap p50 ({trials} trials)", _pct(gaps, 0.5), "s"),
                 ("handover", "PyRTC", f"{kind} gap p99 ({trials} trials)", _pct(gaps, 0.99), "s"),
                 ("handover", "PyRTC", f"{kind}: acknowledged messages lost", float(lost), "")]
    n = 10_000
    took = asyncio.run(_sync(ctx.tmp, n))
    ctx.log(f"  a returning peer synced {n:,} messages in {took:.2f} s")
    rows.append(("handover", "PyRTC", f"returning peer syncs {n:,} messages", took, "s"))
    rows += _launch(ctx, 3 if ctx.quick else 5)
    return rows
