"""The benchmark scenarios. Each returns rows: (scenario, system, metric, value, unit).
Every scenario measures PyRTC and its baselines in the same run, on the same machine."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyrtc.client import ClientSession
from pyrtc.store import Store

from . import loadgen, systems

Row = tuple[str, str, str, float, str]


@dataclass
class Ctx:
    tmp: Path
    quick: bool
    log: Callable[[str], None]
    gui_before: Path | None = None  # an older checkout (with its .venv) whose window the GUI scenario also runs


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _servers(ctx: Ctx, *, irc: bool = True) -> list[Callable[[], systems.ServerProc]]:
    out: list[Callable[[], systems.ServerProc]] = [
        lambda: systems.start_pyrtc(ctx.tmp / "s-pyrtc"),
        lambda: systems.start_pyrtc(ctx.tmp / "s-pyrtc", tls=True),
        lambda: systems.start_baseline(ctx.tmp / "s-base"),
    ]
    binary = systems.ngircd_path() if irc else None
    if binary:
        out.append(lambda: systems.start_ngircd(ctx.tmp, binary))
    elif irc:
        ctx.log("  ngircd not available (apt-get install ngircd): IRC column skipped")
    redis = systems.redis_path()
    if redis:
        out.append(lambda: systems.start_redis(ctx.tmp, redis))
    else:
        ctx.log("  redis-server not available (apt-get install redis-tools): C pub/sub column skipped")
    return out


# ---------------------------------------------------------------- 1. fan-out


def fanout(ctx: Ctx) -> list[Row]:
    rows: list[Row] = []
    duration = 3.0 if ctx.quick else 10.0
    for start in _servers(ctx):
        (ctx.tmp / "s-pyrtc").mkdir(exist_ok=True)
        (ctx.tmp / "s-base").mkdir(exist_ok=True)
        srv = start()
        try:
            cpu0 = srv.cpu_s()
            res, dur = loadgen.run(loadgen.Plan(srv.name, srv.port, clients=100, senders=10,
                                                duration=duration, sample=10, window=32))
            cpu = srv.cpu_s() - cpu0
        finally:
            srv.stop()
        lat = res.latencies_us
        ctx.log(f"  {srv.name}: {res.received / dur:,.0f} deliveries/s")
        rows += [("fan-out", srv.name, "deliveries/s", res.received / dur, "1/s"),
                 ("fan-out", srv.name, "p50 latency", _pct(lat, .5) / 1000, "ms"),
                 ("fan-out", srv.name, "p99 latency", _pct(lat, .99) / 1000, "ms"),
                 ("fan-out", srv.name, "server CPU", cpu / (dur + 1), "cores"),
                 ("fan-out", srv.name, "load-generator CPU", res.cpu_s / dur, "cores")]
    return rows


# ---------------------------------------------------------------- 2. steady latency


def latency(ctx: Ctx) -> list[Row]:
    """Steady load. "own core": the server on CPU 0, one load-generator process on the others,
    as on a LAN where the server has its machine to itself. "shared cores": all processes
    where the scheduler puts them; on 2 cores it wakes a load-generator process on the
    server's core in the middle of a fan-out, which stalls every system alike (0.2-0.6 ms).
    The own-core runs are repeated (systems interleaved) and pooled: from one 10 s run to the
    next, this VM's p99 for the same server can differ by a factor of two."""
    rows: list[Row] = []
    duration = 3.0 if ctx.quick else 10.0
    cpus = sorted(os.sched_getaffinity(0))
    runs: list[tuple[int, bool, int]] = []  # rate, own core, rounds
    if len(cpus) >= 2:
        runs.append((200, True, 1 if ctx.quick else 3))
    runs.append((200, False, 1))
    if not ctx.quick:
        runs.append((2000, False, 1))  # its load generator needs more than one core
    for rate, own_core, rounds in runs:
        name = f"latency @{rate}/s, {'own core' if own_core else 'shared cores'}"
        pooled: dict[str, loadgen.WorkerResult] = {}
        servers = _servers(ctx)
        for r in range(rounds):
            for start in servers[r:] + servers[:r]:  # each round starts with another system
                (ctx.tmp / "s-pyrtc").mkdir(exist_ok=True)
                (ctx.tmp / "s-base").mkdir(exist_ok=True)
                srv = start()
                plan = loadgen.Plan(srv.name, srv.port, clients=100, senders=100, duration=duration,
                                    mode="steady", total_rate=rate, sample=1)
                if own_core:
                    srv.pin(frozenset(cpus[:1]))
                    plan.cpus, plan.procs = frozenset(cpus[1:]), 1
                try:
                    res, _ = loadgen.run(plan)
                finally:
                    srv.stop()
                ctx.log(f"  {srv.name} {name}: p99 {_pct(res.latencies_us, .99) / 1000:.2f} ms")
                total = pooled.setdefault(srv.name, loadgen.WorkerResult())
                total.latencies_us += res.latencies_us
                total.cpu_s += res.cpu_s
        if rounds > 1:
            name += f", {rounds} runs pooled"
        for system, res in pooled.items():
            lat = res.latencies_us
            rows += [(name, system, "p50", _pct(lat, .5) / 1000, "ms"),
                     (name, system, "p99", _pct(lat, .99) / 1000, "ms"),
                     (name, system, "max", max(lat) / 1000 if lat else float("nan"), "ms"),
                     (name, system, "load-generator CPU", res.cpu_s / (duration * rounds), "cores")]
    return rows


# ---------------------------------------------------------------- 3. idle connections


def connections(ctx: Ctx) -> list[Row]:
    rows: list[Row] = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the servers
    counts = [1000] if ctx.quick else [1000, 5000]
    for n in counts:
        for start in _servers(ctx, irc=False):
            (ctx.tmp / "s-pyrtc").mkdir(exist_ok=True)
            (ctx.tmp / "s-base").mkdir(exist_ok=True)
            shutil.rmtree(ctx.tmp / "s-pyrtc" / "pyrtc-data", ignore_errors=True)
            srv = start()
            try:
                time.sleep(0.3)
                rss0 = srv.rss_kb()
                t0 = time.monotonic()
                plan = loadgen.Plan(srv.name, srv.port, clients=n, senders=0, duration=0.5,
                                    warmup=0.0, procs=2)
                loadgen.run(plan)
                took = time.monotonic() - t0 - 0.5
                rss1 = srv.peak_rss_kb()
            finally:
                srv.stop()
            per = (rss1 - rss0) * 1024 / n
            ctx.log(f"  {srv.name} {n} clients: {took:.2f} s, {per / 1024:.1f} KiB each")
            rows += [(f"{n} idle clients", srv.name, "time to connect+join all", took, "s"),
                     (f"{n} idle clients", srv.name, "server RSS per connection", per / 1024, "KiB")]
    return rows


# ---------------------------------------------------------------- 4. files


def files(ctx: Ctx) -> list[Row]:
    size = (50 if ctx.quick else 200) * 1024 * 1024
    # On tmpfs when there is room: this VM's disk writes at 0.45-2 GB/s from one run to the
    # next, which would drown what the servers do. "raw TCP into a file" shows a file's cost.
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 8 * size:
        where = Path(tempfile.mkdtemp(prefix="pyrtc-bench-", dir=shm))
        ctx.log(f"  files on tmpfs ({where})")
        try:
            return _files(Ctx(where, ctx.quick, ctx.log), size)
        finally:
            shutil.rmtree(where, ignore_errors=True)
    return _files(ctx, size)


def _files(ctx: Ctx, size: int) -> list[Row]:
    src = ctx.tmp / "big.bin"
    with open(src, "wb") as f:
        chunk = os.urandom(1 << 20)
        for i in range(size >> 20):
            f.write(hashlib.sha256(chunk + bytes([i % 256])).digest() * 32768)
    mb = size / 1e6
    rows: list[Row] = []

    # Raw asyncio TCP stream of the same bytes: the ceiling on this machine.
    async def raw(into: Path | None = None) -> float:
        got = 0
        done = asyncio.Event()

        async def sink(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            nonlocal got
            with open(into or os.devnull, "wb") as out:
                while data := await r.read(1 << 18):
                    got += len(data)
                    if into is not None:
                        out.write(data)
            done.set()
            w.close()

        server = await asyncio.start_server(sink, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        t0 = time.perf_counter()
        _, w = await asyncio.open_connection("127.0.0.1", port)
        with open(src, "rb") as f:
            while data := f.read(1 << 18):
                w.write(data)
                await w.drain()
        w.close()
        await done.wait()
        server.close()
        return time.perf_counter() - t0

    t = asyncio.run(raw())
    rows.append(("files", "raw asyncio TCP", "upload MB/s", mb / t, "MB/s"))
    ctx.log(f"  raw TCP: {mb / t:,.0f} MB/s")
    # The same stream written to a file, as PyRTC's server (upload) and client (download)
    # must: this disk's share of the ceiling, measured in the same run.
    t = asyncio.run(raw(ctx.tmp / "raw-sink.bin"))
    (ctx.tmp / "raw-sink.bin").unlink()
    rows.append(("files", "raw TCP into a file", "upload MB/s", mb / t, "MB/s"))
    ctx.log(f"  raw TCP into a file: {mb / t:,.0f} MB/s")

    for tls in (False, True):
        rows += _pyrtc_files(ctx, src, mb, tls)
    rows += _baseline_files(ctx, src, mb, size)
    src.unlink()
    return rows


def _pyrtc_files(ctx: Ctx, src: Path, mb: float, tls: bool) -> list[Row]:
    where = ctx.tmp / ("s-pyrtc-tls" if tls else "s-pyrtc-files")  # fresh: no deduplicated upload
    where.mkdir(exist_ok=True)
    srv = systems.start_pyrtc(where, "--max-file", "1G", tls=tls)
    rss: list[int] = []
    try:
        async def pyrtc() -> tuple[float, float]:
            stop = asyncio.Event()

            async def sample() -> None:
                while not stop.is_set():
                    rss.append(srv.rss_kb())
                    await asyncio.sleep(0.05)

            sampler = asyncio.ensure_future(sample())
            async with ClientSession("127.0.0.1", srv.port, f"uploader{int(tls)}", tls=tls) as s:
                await s.join("General")
                t0 = time.perf_counter()
                seq = await s.upload("General", src)
                up = time.perf_counter() - t0
                blob = s.state.rooms["General"].by_seq[seq].file.blob_id  # type: ignore[union-attr]
                out = ctx.tmp / "down.bin"
                t0 = time.perf_counter()
                await s.download(blob, out)
                down = time.perf_counter() - t0
                out.unlink()
            stop.set()
            await sampler
            return up, down

        rss0 = srv.rss_kb()
        up, down = asyncio.run(pyrtc())
    finally:
        srv.stop()
    ctx.log(f"  {srv.name}: up {mb / up:,.0f} MB/s, down {mb / down:,.0f} MB/s (incl. BLAKE3 on both ends)")
    return [("files", srv.name, "upload MB/s", mb / up, "MB/s"),
            ("files", srv.name, "download MB/s", mb / down, "MB/s"),
            ("files", srv.name, "server RSS growth during transfer", (max(rss) - rss0) / 1024, "MiB")]


def _baseline_files(ctx: Ctx, src: Path, mb: float, size: int) -> list[Row]:
    (ctx.tmp / "s-base").mkdir(exist_ok=True)
    base = systems.start_baseline(ctx.tmp / "s-base")
    rss = []
    try:
        import socket
        import threading

        rss0 = base.rss_kb()
        stop = threading.Event()

        def sample_base() -> None:
            while not stop.is_set():
                rss.append(base.rss_kb())
                time.sleep(0.05)

        threading.Thread(target=sample_base, daemon=True).start()
        t0 = time.perf_counter()
        with socket.create_connection(("127.0.0.1", base.port)) as sock:
            f = sock.makefile("rb")
            sock.sendall(b'{"cmd": "join", "room": "General", "name": "up"}\n')
            f.readline()
            body = base64.b64encode(src.read_bytes()).decode()
            sock.sendall((json.dumps({"cmd": "file", "name": "big.bin", "data": body}) + "\n").encode())
            f.readline()
            up = time.perf_counter() - t0
            t0 = time.perf_counter()
            sock.sendall(b'{"cmd": "get", "name": "big.bin"}\n')
            reply = json.loads(f.readline())
            data = base64.b64decode(reply["data"])
            down = time.perf_counter() - t0
            assert len(data) == size
        stop.set()
    finally:
        base.stop()
    ctx.log(f"  thread-per-client (base64): up {mb / up:,.0f} MB/s, down {mb / down:,.0f} MB/s")
    return [("files", "thread-per-client", "upload MB/s", mb / up, "MB/s"),
            ("files", "thread-per-client", "download MB/s", mb / down, "MB/s"),
            ("files", "thread-per-client", "server RSS growth during transfer", (max(rss) - rss0) / 1024, "MiB")]


# ---------------------------------------------------------------- 5. history


def history(ctx: Ctx) -> list[Row]:
    n = 100_000 if ctx.quick else 1_000_000
    data = ctx.tmp / "s-hist" / "pyrtc-data"
    data.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    store = Store(data / "history.db")
    words = ["meeting", "lunch", "deploy", "report", "coffee", "review", "budget", "holiday"]
    for start in range(0, n, 100_000):
        store.bulk_append("General", ((f"user{i % 50}", f"{words[i % 8]} note {i} about {words[(i * 7) % 8]}")
                                      for i in range(start, min(n, start + 100_000))))
    store.close()
    ctx.log(f"  filled {n:,} messages in {time.perf_counter() - t0:.0f} s")
    srv = systems.start_pyrtc(ctx.tmp / "s-hist")

    async def measure() -> tuple[list[float], float, list[float]]:
        joins, searches = [], []
        for i in range(20):
            async with ClientSession("127.0.0.1", srv.port, f"reader{i}", tls=False) as s:
                t = time.perf_counter()
                await s.join("General")
                joins.append(time.perf_counter() - t)
        async with ClientSession("127.0.0.1", srv.port, "resumer", tls=False) as s:
            t = time.perf_counter()
            view = await s.join("General", since=n - 10_000)
            resume = time.perf_counter() - t
            assert len(view.messages) >= 10_000
            for i in range(20):
                t = time.perf_counter()
                await s.search("General", f"{words[i % 8]} {i}")
                searches.append(time.perf_counter() - t)
        return joins, resume, searches

    try:
        joins, resume, searches = asyncio.run(measure())
    finally:
        srv.stop()
    ctx.log(f"  join p50 {statistics.median(joins) * 1000:.1f} ms, resume {resume * 1000:.0f} ms")
    return [(f"history ({n:,} msgs)", "PyRTC", "join (last 100) p50", statistics.median(joins) * 1000, "ms"),
            (f"history ({n:,} msgs)", "PyRTC", "join (last 100) max", max(joins) * 1000, "ms"),
            (f"history ({n:,} msgs)", "PyRTC", "resume 10,000 behind", resume * 1000, "ms"),
            (f"history ({n:,} msgs)", "PyRTC", "search p50", statistics.median(searches) * 1000, "ms")]


# ---------------------------------------------------------------- 6. discovery


def discovery(ctx: Ctx) -> list[Row]:
    if os.geteuid() != 0 or not shutil.which("ip"):
        ctx.log("  skipped: needs root and iproute2 for network namespaces")
        return []
    from tests.discovery.netlab import Lab

    lab = Lab("bench")
    rows: list[Row] = []
    try:
        lab.bridge("br")
        for i in (1, 2):
            lab.node(f"n{i}")
            lab.plug(f"n{i}", "br", f"10.77.0.{i}/24")
        py = [sys.executable, "-m", "pyrtc"]
        srv = lab.popen("n1", [*py, "server", "--port", "0", "--name", "Bench", "--data-dir",
                               str(ctx.tmp / "d-disc"), "--log-dir", str(ctx.tmp / "l-disc")],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert srv.stdout is not None
        srv.stdout.readline()  # listening + announced
        resolve, inner = [], []
        for _ in range(3 if ctx.quick else 5):
            t0 = time.monotonic()
            w = lab.popen("n2", [*py, "servers", "--watch", "--json", "--probe-interval", "600",
                                 "--log-dir", str(ctx.tmp / "l-w")], stdout=subprocess.PIPE)
            assert w.stdout is not None
            ev = json.loads(w.stdout.readline())
            resolve.append(time.monotonic() - t0)
            inner.append(ev["t"])
            w.terminate()
            w.wait()
        w = lab.popen("n2", [*py, "servers", "--watch", "--json", "--probe-interval", "600",
                             "--log-dir", str(ctx.tmp / "l-w")], stdout=subprocess.PIPE)
        assert w.stdout is not None
        w.stdout.readline()
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        json.loads(w.stdout.readline())  # removed
        gone = time.monotonic() - t0
        w.terminate()
        srv.wait(10)
        ctx.log(f"  resolved in {statistics.median(resolve):.2f} s from process start; removed {gone * 1000:.0f} ms after SIGTERM")
        rows = [("discovery", "PyRTC", "`pyrtc servers` start to resolved (median)", statistics.median(resolve), "s"),
                ("discovery", "PyRTC", "browser start to resolved (median)", statistics.median(inner), "s"),
                ("discovery", "PyRTC", "SIGTERM to removal", gone, "s")]
    finally:
        lab.close()
    return rows


# ---------------------------------------------------------------- 7. GUI


def gui(ctx: Ctx) -> list[Row]:
    """The window with 10,000 messages (a fifth with emoji) and 50 msg/s arriving; with
    `--gui-before PATH`, an older checkout's window too, in the same run (before, then after).
    Each tree runs whole: its own store seeds the room, its own server serves it and its own
    client chats, all from that tree's venv (an older window cannot speak a newer protocol)."""
    if shutil.which("xvfb-run") is None:
        ctx.log("  skipped: needs xvfb-run (apt xvfb)")
        return []
    rows: list[Row] = []
    root = Path(__file__).resolve().parents[2]
    runs = [("PyRTC", root, Path(sys.executable))]
    if ctx.gui_before is not None:
        before = ctx.gui_before.resolve()
        python = before / ".venv" / "bin" / "python"
        if not python.exists():
            raise SystemExit(f"--gui-before {before}: no {python} (run scripts/setup.sh test there)")
        runs.insert(0, ("PyRTC before", before, python))
    for label, tree, python in runs:
        ctx.log(f"  {label} ({tree}):")
        rows += _gui_run(ctx, label, tree, python)
    return rows


GUI_SIDE = Path(__file__).resolve().with_name("gui_side.py")
READY_WAIT = 180.0  # generous: 10,000 rows under llvmpipe on a busy 2-core machine take ~10-30 s


def _tail(path: Path, chars: int = 800) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no output)"


def _gui_run(ctx: Ctx, label: str, tree: Path, python: Path) -> list[Row]:
    n = 10_000
    tag = label.replace(" ", "-").lower()
    data = ctx.tmp / f"s-gui-{tag}" / "pyrtc-data"
    data.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(python), str(GUI_SIDE), "seed", "--db", str(data / "history.db"), "--count", str(n)],
                   cwd=tree, check=True, timeout=300)
    srv = systems.start_pyrtc(ctx.tmp / f"s-gui-{tag}", python=str(python), cwd=tree)
    home = ctx.tmp / f"gui-{tag}"
    home.mkdir(exist_ok=True)
    out, ready, stop = home / "frames.json", home / "gui-ready", home / "stop"
    seconds = 4.0 if ctx.quick else 15.0  # 15 s at 50 msg/s: 750 new rows, past the trim
    env = dict(os.environ, PROBE_T0=str(time.monotonic()), HOME=str(home),
               XDG_CACHE_HOME=str(home / "cache"), PYRTC_LOG_DIR=str(home))
    probe_log, chat_log = home / "probe.log", home / "chatter.log"
    with probe_log.open("wb") as plog, chat_log.open("wb") as clog:
        probe = subprocess.Popen(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", str(python), "-m",
                                  "tests.benchmarks.gui_probe", "--server", f"127.0.0.1:{srv.port}", "--out",
                                  str(out), "--seconds", str(seconds), "--expect", str(n)],
                                 cwd=tree, env=env, stdout=plog, stderr=subprocess.STDOUT, start_new_session=True)
        chatter = subprocess.Popen([str(python), str(GUI_SIDE), "chat", "--port", str(srv.port), "--ready",
                                    str(ready), "--stop", str(stop), "--seconds", str(seconds),
                                    "--wait-ready", str(READY_WAIT)],
                                   cwd=tree, stdout=clog, stderr=subprocess.STDOUT)
    failure = ""
    try:
        deadline = time.monotonic() + READY_WAIT
        while not ready.exists() and not failure:
            if probe.poll() is not None:
                failure = f"the window exited ({probe.returncode}) before it drew the room"
            elif chatter.poll() is not None:
                failure = f"the chatter exited ({chatter.returncode}) before the window was ready"
            elif time.monotonic() > deadline:
                failure = f"the window never reported ready in {READY_WAIT:.0f} s (did it connect?)"
            else:
                time.sleep(0.1)
        if not failure:
            try:
                probe.wait(seconds + 60)
            except subprocess.TimeoutExpired:
                failure = f"the window kept running {seconds + 60:.0f} s past its measuring time"
    finally:
        stop.touch()
        for proc in (probe, chatter):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                if proc is probe:
                    os.killpg(proc.pid, signal.SIGKILL)  # xvfb-run, Xvfb and the window
                else:
                    proc.kill()
                proc.wait()
        srv.stop()
    if failure or not out.exists():
        ctx.log(f"  {label}: {failure or 'the window did not report'}; no figures for it.\n"
                f"  window output: {_tail(probe_log)}\n  chatter output: {_tail(chat_log)}")
        return []
    sent_line = [ln for ln in chat_log.read_text().splitlines() if ln.startswith("sent ")]
    sent = int(sent_line[-1].split()[1]) if sent_line else -1
    result = json.loads(out.read_text())
    frames = [f * 1000 for f in result["frames"]]
    marks = result["marks"]
    ctx.log(f"  {len(frames)} frames, p50/p95/p99 {_pct(frames, .5):.1f}/{_pct(frames, .95):.1f}/"
            f"{_pct(frames, .99):.1f} ms; {sent} messages arrived meanwhile; "
            f"{marks['rows_built']} rows built for {marks['messages_held']} messages held "
            f"(following: {marks.get('following')}, scroll {marks.get('scroll')})")
    scen = "GUI (10,000 msgs, 50 msg/s)"
    return [(scen, label, "frame time p50", _pct(frames, .5), "ms"),
            (scen, label, "frame time p95", _pct(frames, .95), "ms"),
            (scen, label, "frame time p99", _pct(frames, .99), "ms"),
            (scen, label, "launch to first frame", marks["first_frame"], "s"),
            (scen, label, "launch to room drawn", marks["room"], "s")]


def _handover(ctx: Ctx) -> list[Row]:
    from .handover import handover  # imports this module: loaded when asked for

    return handover(ctx)


def _cluster(ctx: Ctx) -> list[Row]:
    from .cluster import cluster  # nats-py and a nats-server: only this scenario needs them

    return cluster(ctx)


SCENARIOS: dict[str, Callable[[Ctx], list[Row]]] = {
    "fanout": fanout, "latency": latency, "connections": connections, "files": files,
    "history": history, "discovery": discovery, "gui": gui, "handover": _handover, "cluster": _cluster,
}
