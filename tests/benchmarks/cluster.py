"""`python -m tests.benchmarks cluster`: one chat on two servers through NATS JetStream, side
by side with single-server PyRTC in the same run (docs/cluster.md keeps the figures).

- latency at 200 msg/s, 100 clients (all senders): single server; cluster of 1 (the cost
  of the stream on the path); cluster of 2 with the clients split over both (half of the
  deliveries cross servers);
- fan-out deliveries/s (100 clients, 10 senders flat out): the same three;
- the ✓ (send -> Acked) of one sender, one message at a time: what the JetStream publish adds;
- a file: upload through A, download through B (first from the object store, then from B's disk);
- kill -9 of one of two servers under load: acknowledged messages lost (must be 0).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pyrtc.client import Alternate, ClientSession, Identity

from ..cluster.natsd import nats_binary
from . import loadgen, systems
from .scenarios import Ctx, Row


class Nats:
    def __init__(self, tmp: Path) -> None:
        port = systems._free_port()
        self.url = f"nats://127.0.0.1:{port}"
        self.proc = subprocess.Popen([nats_binary(), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd",
                                      str(tmp / "jetstream")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if "Server is ready" in line:
                break
        else:
            raise RuntimeError("nats-server did not start")
        self.proc.stderr.close()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


class Setup:
    """How many servers, and whether they share a chat through NATS."""

    def __init__(self, name: str, servers: int, cluster: bool) -> None:
        self.name, self.servers, self.cluster = name, servers, cluster

    def start(self, tmp: Path, run: int) -> tuple[list[systems.ServerProc], Nats | None]:
        nats = Nats(tmp / f"nats-{run}") if self.cluster else None
        procs = []
        for i in range(self.servers):
            extra = ("--cluster", nats.url, "--chat-id", f"bench{run}") if nats else ()
            procs.append(systems.start_pyrtc(tmp / f"srv-{run}-{i}", *extra))
        return procs, nats


SETUPS = [Setup("PyRTC, 1 server", 1, False), Setup("cluster, 1 server", 1, True),
          Setup("cluster, 2 servers", 2, True)]


def cluster(ctx: Ctx) -> list[Row]:
    tmp, quick, log = ctx.tmp, ctx.quick, ctx.log
    duration = 3.0 if quick else 10.0
    rows: list[Row] = []
    run = 0
    for setup in SETUPS:
        for mode in ("steady", "fanout"):
            run += 1
            procs, nats = setup.start(tmp, run)
            try:
                ports = tuple(p.port for p in procs)
                plan = (loadgen.Plan("PyRTC", ports[0], clients=100, senders=100, duration=duration, mode="steady",
                                     total_rate=200, sample=1, ports=ports) if mode == "steady" else
                        loadgen.Plan("PyRTC", ports[0], clients=100, senders=10, duration=duration, sample=10,
                                     window=32, ports=ports))
                res, dur = loadgen.run(plan)
            finally:
                for p in procs:
                    p.stop()
                if nats:
                    nats.stop()
            lat = res.latencies_us
            if mode == "steady":
                log(f"  {setup.name} @200/s: p50 {_pct(lat, .5) / 1000:.2f} ms, p99 {_pct(lat, .99) / 1000:.2f} ms")
                rows += [("cluster: latency @200/s", setup.name, "p50", _pct(lat, .5) / 1000, "ms"),
                         ("cluster: latency @200/s", setup.name, "p99", _pct(lat, .99) / 1000, "ms")]
            else:
                log(f"  {setup.name} fan-out: {res.received / dur:,.0f} deliveries/s")
                rows += [("cluster: fan-out", setup.name, "deliveries/s", res.received / dur, "1/s"),
                         ("cluster: fan-out", setup.name, "p99 latency", _pct(lat, .99) / 1000, "ms")]
    for setup in SETUPS[:2]:
        run += 1
        procs, nats = setup.start(tmp, run)
        try:
            acks = asyncio.run(_ack_times(procs[0].port, 200 if quick else 1000))
        finally:
            procs[0].stop()
            if nats:
                nats.stop()
        log(f"  {setup.name} ✓: p50 {_pct(acks, .5):.2f} ms")
        rows += [("cluster: ✓ one at a time", setup.name, "p50", _pct(acks, .5), "ms"),
                 ("cluster: ✓ one at a time", setup.name, "p99", _pct(acks, .99), "ms")]
    run += 1
    rows += _files(tmp, run, 20 if quick else 100, log)
    run += 1
    rows += _kill(tmp, run, 400 if quick else 2000, log)
    return rows


def _files(tmp: Path, run: int, mib: int, log: Callable[[str], None]) -> list[Row]:
    """A file uploaded through A: what the object store adds to the upload, and a download
    through B (the first from the object store, the next from B's own disk)."""
    src = tmp / "body.bin"
    src.write_bytes(os.urandom(mib * 1024 * 1024))
    rows: list[Row] = []
    for setup in (Setup("PyRTC, 1 server", 1, False), Setup("cluster, 2 servers", 2, True)):
        procs, nats = setup.start(tmp, run)
        run += 1
        try:
            up, first, again = asyncio.run(_transfer(src, procs[0].port, procs[-1].port, tmp))
        finally:
            for pr in procs:
                pr.stop()
            if nats:
                nats.stop()
        log(f"  {setup.name} {mib} MiB: upload {up:.2f} s, download {first:.2f} s, again {again:.2f} s")
        name = f"cluster: a {mib} MiB file"
        where = " (via the other server)" if setup.servers > 1 else ""
        rows += [(name, setup.name, "upload", mib / up, "MiB/s"),
                 (name, setup.name, "first download" + where, mib / first, "MiB/s"),
                 (name, setup.name, "next download" + where, mib / again, "MiB/s")]
    return rows


async def _transfer(src: Path, up_port: int, down_port: int, tmp: Path) -> tuple[float, float, float]:
    a = ClientSession("127.0.0.1", up_port, "up", identity=Identity.generate(), tls=False)
    b = ClientSession("127.0.0.1", down_port, "down", identity=Identity.generate(), tls=False)
    for s in (a, b):
        await s.connect()
        await s.join("General")
    t0 = time.perf_counter()
    seq = await a.upload("General", src)
    up = time.perf_counter() - t0
    await b.wait_for(lambda st: seq in st.rooms["General"].by_seq, timeout=60)
    info = b.state.rooms["General"].by_seq[seq].file
    assert info is not None
    times = []
    for i in range(2):
        t0 = time.perf_counter()
        await b.download(info.blob_id, tmp / f"got-{up_port}-{i}.bin")
        times.append(time.perf_counter() - t0)
    for s in (a, b):
        await s.close()
    return up, times[0], times[1]


async def _ack_times(port: int, n: int) -> list[float]:
    s = ClientSession("127.0.0.1", port, "acker", identity=Identity.generate(), tls=False)
    await s.connect()
    await s.join("General")
    for i in range(20):  # warm-up
        await s.send("General", f"warm {i}")
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        await s.send("General", f"m {i}")
        out.append((time.perf_counter() - t0) * 1000)
    await s.close()
    return out


def _kill(tmp: Path, run: int, total: int, log: Callable[[str], None]) -> list[Row]:
    procs, nats = Setup("kill", 2, True).start(tmp, run)
    assert nats is not None
    try:
        acked, lost, doubled = asyncio.run(_kill_under_load(procs, total))
    finally:
        for p in procs:
            p.stop()
        nats.stop()
    log(f"  kill -9 under load: {acked} acknowledged, {lost} lost, {doubled} doubled")
    name = "cluster: kill -9 of 1 of 2 servers"
    return [(name, "cluster, 2 servers", "acknowledged", acked, "msgs"),
            (name, "cluster, 2 servers", "acknowledged, lost", lost, "msgs"),
            (name, "cluster, 2 servers", "stored twice", doubled, "msgs")]


async def _kill_under_load(procs: list[systems.ServerProc], total: int) -> tuple[int, int, int]:
    """4 senders on A (with B to fail over to) post `total` messages; A is killed -9 when a
    quarter is acknowledged; every post ends acknowledged (through B). Then B's history is
    checked message by message."""
    a, b = procs
    others = [Alternate("127.0.0.1", a.port, None), Alternate("127.0.0.1", b.port, None)]

    async def alternates() -> list[Alternate]:
        return others

    senders = []
    for i in range(4):
        s = ClientSession("127.0.0.1", a.port, f"k{i}", identity=Identity.generate(), tls=False,
                          failover=alternates, backoff=(0.05, 0.5))
        await s.connect()
        await s.join("General")
        senders.append(s)
    acked: dict[str, int] = {}
    quarter = asyncio.Event()

    async def post(s: ClientSession, text: str) -> None:
        acked[text] = await s.send("General", text, timeout=None)
        if len(acked) >= total // 4:
            quarter.set()

    async def sender(s: ClientSession, k: int) -> None:
        for i in range(k, total, len(senders)):
            await asyncio.sleep(0.002)  # ~2,000 msg/s from the four together
            asyncio.ensure_future(post(s, f"kill {i}"))

    feeding = [asyncio.ensure_future(sender(s, k)) for k, s in enumerate(senders)]
    await quarter.wait()
    a.proc.send_signal(signal.SIGKILL)
    await asyncio.gather(*feeding)
    async with asyncio.timeout(300):
        while len(acked) < total:
            await asyncio.sleep(0.05)
    seen: dict[str, list[int]] = {}
    before: int | None = None
    while True:  # newest page first, back to seq 1
        page = await senders[0].history("General", before=before, limit=500)
        for m in page.messages:
            seen.setdefault(m.text, []).append(m.seq)
        if not page.messages:
            break
        before = page.messages[0].seq
    for s in senders:
        await s.close()
    lost = sum(1 for text, seq in acked.items() if seq not in seen.get(text, []))
    doubled = sum(len(v) - 1 for v in seen.values())
    return len(acked), lost, doubled


__all__ = ["cluster"]

