"""python -m tests.benchmarks compare --old PATH [--rounds N] [--quick] [--json OUT]

An older PyRTC (another checkout, with its own venv in PATH/.venv: `bash scripts/setup.sh
test` there) against this one, in one run: the figures a change must not make worse,
each over plain TCP and TLS.

- fan-out (100 clients, 10 senders, as fast as the server confirms): deliveries/s, and
  server CPU per delivery (the server's CPU time from "go" to the end over every delivery
  in that time);
- p99 latency at 200 msg/s (server on its own core) and at 2,000 msg/s (shared cores);
- idle RSS per connection (N clients connected and joined, then idle).

The VM's speed changes from minute to minute, so the two servers take turns: every
measurement runs old then new or new then old (alternating), adjacent in time, ROUNDS
times. Per-run figures are pooled: the table gives the median and the spread (min-max) of
the runs; p99s are taken over the pooled samples. Benchmarks print figures; nothing here
asserts a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyrtc.protocol as p

from . import loadgen, systems
from .machine import machine


@dataclass(frozen=True)
class Side:
    name: str  # "old" or "new"
    python: str
    cwd: Path
    protocol: int = p.PROTOCOL_VERSION  # what its server speaks

    @property
    def adapter(self) -> type[systems.Adapter] | None:
        return HelloFirst if self.protocol < 3 else None


class HelloFirst(systems.PyrtcAdapter):
    """A client of a PyRTC before protocol 3 (an older checkout): the server sends no
    greeting; the hello goes first, unsigned (the key and proof fields, empty, are unknown
    to that server and skipped)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.write(p.encode(p.Hello(version=2, name=self.name))
                             + p.encode(p.JoinRoom(room=systems.ROOM, since=10**12)))


def _protocol_of(python: str, cwd: Path) -> int:
    """The protocol version the checkout at `cwd` speaks (asked of its own interpreter)."""
    out = subprocess.run([python, "-c", "import pyrtc.protocol as p; print(p.PROTOCOL_VERSION)"], cwd=cwd,
                         capture_output=True, text=True, check=True, timeout=60)
    return int(out.stdout.strip())


@dataclass
class Figure:
    """One row: per-run values of each side (and pooled samples, for percentiles)."""

    label: str
    unit: str
    higher_is_better: bool
    runs: dict[str, list[float]] = field(default_factory=lambda: {"old": [], "new": []})
    # Samples as 4-byte floats: 2,000 msg/s to 100 clients is 2 million a run.
    pooled: dict[str, array[float]] = field(default_factory=lambda: {"old": array("f"), "new": array("f")})
    pct: float | None = None  # the figure is this percentile of `pooled`

    def value(self, side: str) -> float:
        if self.pct is not None:
            return _pct(self.pooled[side], self.pct)
        return statistics.median(self.runs[side]) if self.runs[side] else float("nan")

    def change(self) -> float:
        """new vs old, as a fraction; positive is better."""
        old, new = self.value("old"), self.value("new")
        if not old or old != old or new != new:
            return float("nan")
        return (new / old - 1) if self.higher_is_better else (old / new - 1)


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


@dataclass
class Bench:
    tmp: Path
    quick: bool
    log: Callable[[str], None]
    figures: dict[str, Figure] = field(default_factory=dict)
    runs: int = 0

    def figure(self, label: str, unit: str, higher_is_better: bool, pct: float | None = None) -> Figure:
        if label not in self.figures:
            self.figures[label] = Figure(label, unit, higher_is_better, pct=pct)
        return self.figures[label]

    @contextlib.contextmanager
    def server(self, side: Side, tls: bool) -> Iterator[systems.ServerProc]:
        self.runs += 1
        where = self.tmp / f"{side.name}-{self.runs}"  # a fresh store every run
        where.mkdir()
        srv = systems.start_pyrtc(where, tls=tls, python=side.python, cwd=side.cwd)
        try:
            yield srv
        finally:
            srv.stop()
            shutil.rmtree(where, ignore_errors=True)

    # ------------------------------------------------------------------ measurements

    def fanout(self, side: Side, tls: bool) -> None:
        t = "TLS" if tls else "TCP"
        cpu: list[float] = []
        with self.server(side, tls) as srv:
            res, dur = loadgen.run(loadgen.Plan(srv.name, srv.port, clients=100, senders=10, adapter=side.adapter,
                                                duration=3.0 if self.quick else 10.0, sample=10, window=32),
                                   probe=lambda: cpu.append(srv.cpu_s()))
        rate = res.received / dur
        per = (cpu[1] - cpu[0]) * 1e6 / max(1, res.received_all)
        self.figure(f"fan-out deliveries/s, {t}", "1/s", True).runs[side.name].append(rate)
        self.figure(f"fan-out server CPU per delivery, {t}", "µs", False).runs[side.name].append(per)
        self.log(f"  {side.name} fan-out {t}: {rate:,.0f} deliveries/s, {per:.3f} µs CPU each")

    def steady(self, side: Side, tls: bool, rate: int) -> None:
        t = "TLS" if tls else "TCP"
        cpus = sorted(os.sched_getaffinity(0))
        own_core = rate <= 200 and len(cpus) >= 2
        with self.server(side, tls) as srv:
            plan = loadgen.Plan(srv.name, srv.port, clients=100, senders=100, duration=3.0 if self.quick else 10.0,
                                mode="steady", total_rate=rate, sample=1, adapter=side.adapter)
            if own_core:  # as on a LAN where the server has its machine: see scenarios.latency
                srv.pin(frozenset(cpus[:1]))
                plan.cpus, plan.procs = frozenset(cpus[1:]), 1
            cpu: list[float] = []
            res, _ = loadgen.run(plan, probe=lambda: cpu.append(srv.cpu_s()))
        where = "own core" if own_core else "shared cores"
        fig = self.figure(f"p99 latency @{rate:,} msg/s ({where}), {t}", "ms", False, pct=0.99)
        ms = array("f", (v / 1000 for v in res.latencies_us))
        fig.pooled[side.name] += ms
        fig.runs[side.name].append(_pct(ms, 0.99))
        # Less bent by other processes than a p99: the server's CPU time per delivery.
        per = (cpu[1] - cpu[0]) * 1e6 / max(1, res.received_all)
        self.figure(f"server CPU per delivery @{rate:,} msg/s, {t}", "µs", False).runs[side.name].append(per)
        self.log(f"  {side.name} @{rate}/s {t}: p99 {_pct(ms, 0.99):.2f} ms, {per:.2f} µs CPU per delivery")

    def idle(self, side: Side, tls: bool) -> None:
        t = "TLS" if tls else "TCP"
        n = 1000 if self.quick else 2000
        with self.server(side, tls) as srv:
            time.sleep(0.3)
            rss0 = srv.rss_kb()
            loadgen.run(loadgen.Plan(srv.name, srv.port, clients=n, senders=0, duration=0.5, warmup=0.0, procs=2,
                                     adapter=side.adapter))
            per = (srv.peak_rss_kb() - rss0) / n
        self.figure(f"idle RSS per connection ({n:,} clients), {t}", "KiB", False).runs[side.name].append(per)
        self.log(f"  {side.name} idle {t}: {per:.1f} KiB per connection")


def table(figures: list[Figure], limit: float) -> str:
    def show(v: float) -> str:
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.3g}" if abs(v) < 10 else f"{v:,.1f}"

    def spread(values: list[float]) -> str:
        return f"{show(min(values))}–{show(max(values))}" if values else ""

    head = f"{'figure':<46} {'unit':<4} {'old':>9} {'(runs)':>17} {'new':>9} {'(runs)':>17} {'new vs old':>10}"
    out = [head, "-" * len(head)]
    for f in figures:
        change = f.change()
        mark = "" if change != change else "  ok" if change >= -limit else "  WORSE"
        out.append(f"{f.label:<46} {f.unit:<4} {show(f.value('old')):>9} {spread(f.runs['old']):>17} "
                   f"{show(f.value('new')):>9} {spread(f.runs['new']):>17} {change:>+9.1%}{mark}")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.benchmarks compare", description=__doc__.split("\n\n")[1])
    ap.add_argument("--old", type=Path, required=True, help="the older checkout (with .venv)")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each measurement per side (default 3)")
    ap.add_argument("--quick", action="store_true", help="3 s runs, 1,000 idle clients")
    ap.add_argument("--limit", type=float, default=0.05, help="a figure worse by more than this is marked")
    ap.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = ap.parse_args(argv)
    old_python = args.old / ".venv" / "bin" / "python"
    if not old_python.exists():
        ap.error(f"{old_python} is missing: run `bash scripts/setup.sh test` in {args.old}")
    here = Path(__file__).resolve().parents[2]
    old_side = Side("old", str(old_python), args.old.resolve(), _protocol_of(str(old_python), args.old.resolve()))
    sides = [old_side, Side("new", sys.executable, here)]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the idle runs' clients; servers inherit it
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pyrtc-compare-") as tmp:
        bench = Bench(Path(tmp), args.quick, lambda s: print(s, file=sys.stderr, flush=True))
        steps: list[Callable[[Side], None]] = []
        for tls in (False, True):
            steps += [lambda s, tls=tls: bench.fanout(s, tls),  # type: ignore[misc]
                      lambda s, tls=tls: bench.steady(s, tls, 200),  # type: ignore[misc]
                      lambda s, tls=tls: bench.steady(s, tls, 2000),  # type: ignore[misc]
                      lambda s, tls=tls: bench.idle(s, tls)]  # type: ignore[misc]
        for r in range(args.rounds):
            print(f"[round {r + 1} of {args.rounds}]", file=sys.stderr, flush=True)
            for i, step in enumerate(steps):
                for side in (sides if (r + i) % 2 == 0 else sides[::-1]):  # who goes first alternates
                    step(side)
    figures = list(bench.figures.values())
    print(f"\nPyRTC old ({args.old}) vs new ({here}) — {machine()}; {args.rounds} rounds, "
          f"{'quick' if args.quick else 'full'}, {time.monotonic() - started:.0f} s; median of the runs "
          f"(p99: of the pooled samples), runs' spread in brackets\n")
    print(table(figures, args.limit))
    if args.json:
        args.json.write_text(json.dumps({
            "old": str(args.old), "new": str(here), "rounds": args.rounds, "quick": args.quick,
            "when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(),
            "figures": [{"label": f.label, "unit": f.unit, "old": f.value("old"), "new": f.value("new"),
                         "change": f.change(), "runs": f.runs} for f in figures]}, indent=1))
    return 0


