"""Load generator: clients spread over several processes so that it is not the bottleneck
(its CPU time is reported next to the server's, so a reader can tell). Its processes run
uvloop: the cheaper each received frame is here, the less the instrument adds to what it
measures (at 200 msg/s to 100 clients, the last recipient's latency grew by the load
generator's ~6 us per frame under asyncio's own loop)."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvloop

from .systems import ADAPTERS, Adapter, client_ssl


@dataclass
class Plan:
    system: str
    port: int
    clients: int
    senders: int
    duration: float
    mode: str = "fanout"  # "fanout": as fast as the server confirms; "steady": total_rate msg/s
    total_rate: float = 0.0
    window: int = 32  # own messages in flight per sender (fanout)
    sample: int = 1  # decode every n-th chat frame for latency
    warmup: float = 1.0
    procs: int = 2
    cpus: frozenset[int] | None = None  # pin the load generator's processes to these CPUs
    adapter: type[Adapter] | None = None  # the clients' protocol, if not ADAPTERS[system]
    ports: tuple[int, ...] = ()  # several servers of one chat: client i connects to ports[i % n]


@dataclass
class WorkerResult:
    received: int = 0  # in the measured window
    sent: int = 0
    latencies_us: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    received_all: int = 0  # from "go" to the end, warm-up included (server CPU per delivery)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _work(plan: Plan, index: int, names: list[str], n_senders: int, ready: Any, go: Any,
                out: Any) -> None:
    loop = asyncio.get_running_loop()
    lat: list[float] = []
    measuring = [False]

    def on_chat(ts: int) -> None:
        if measuring[0]:
            lat.append((time.monotonic_ns() - ts) / 1000)

    adapter_cls = plan.adapter or ADAPTERS[plan.system]
    ssl_ctx = client_ssl(plan.system)
    clients: list[Adapter] = []
    for start in range(0, len(names), 200):  # connect in bursts, not one huge SYN flood
        batch = []
        for name in names[start:start + 200]:
            port = plan.ports[int(name[1:]) % len(plan.ports)] if plan.ports else plan.port
            _, proto = await loop.create_connection(
                lambda n=name: adapter_cls(n, on_chat, plan.sample), "127.0.0.1", port,  # type: ignore[call-arg]
                ssl=ssl_ctx)
            batch.append(proto)
        await asyncio.wait_for(asyncio.gather(*(c.ready for c in batch)), 60)
        clients += batch
    ready.put(index)
    while not go.is_set():
        await asyncio.sleep(0.01)
    before_go = sum(c.received for c in clients)
    senders = clients[:n_senders]
    t0 = time.monotonic()
    stop_at = t0 + plan.warmup + plan.duration
    sent = [0]

    async def fast(c: Adapter) -> None:
        seq = 0
        while time.monotonic() < stop_at:
            if c.outstanding < plan.window:
                c.send_chat(seq)
                seq += 1
                sent[0] += 1
                if seq % 16 == 0:
                    await asyncio.sleep(0)
            else:
                c.confirmed.clear()
                try:
                    await asyncio.wait_for(c.confirmed.wait(), 1.0)
                except TimeoutError:
                    c.outstanding = 0  # a lost confirmation must not stall the run

    async def steady(c: Adapter, rate: float, offset: float) -> None:
        seq = 0
        next_at = t0 + offset
        while next_at < stop_at:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            c.send_chat(seq)
            seq += 1
            sent[0] += 1
            next_at += 1 / rate

    if plan.mode == "fanout":
        tasks = [loop.create_task(fast(c)) for c in senders]
    else:
        per = plan.total_rate / max(1, plan.senders)
        tasks = [loop.create_task(steady(c, per, (i / max(1, len(senders))) / per))
                 for i, c in enumerate(senders)]
    await asyncio.sleep(plan.warmup)
    measuring[0] = True
    base = sum(c.received for c in clients)
    cpu0 = _cpu()
    await asyncio.sleep(plan.duration)
    measuring[0] = False
    received = sum(c.received for c in clients) - base
    cpu = _cpu() - cpu0
    for t in tasks:
        t.cancel()
    out.put(WorkerResult(received, sent[0], lat, cpu, sum(c.received for c in clients) - before_go))
    for c in clients:
        if c.transport is not None:
            c.transport.abort()


def _entry(plan: Plan, index: int, names: list[str], n_senders: int, ready: Any, go: Any, out: Any) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if plan.cpus:
        os.sched_setaffinity(0, plan.cpus)
    uvloop.run(_work(plan, index, names, n_senders, ready, go, out))


def run(plan: Plan, probe: Callable[[], object] | None = None) -> tuple[WorkerResult, float]:
    """Run the plan; returns the merged result and the wall time of the measured window.
    `probe` is called right before the load starts and right after it ended (e.g. to read
    the server's CPU time around exactly the work counted in `received_all`)."""
    ctx = mp.get_context("fork")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    names = [f"u{i:05d}" for i in range(plan.clients)]
    procs = []
    for i in range(plan.procs):
        mine = names[i::plan.procs]
        n_send = len([n for n in names[:plan.senders] if n in set(mine)])
        # senders first in each worker's list
        mine = [n for n in mine if n in set(names[:plan.senders])] + [n for n in mine if n not in set(names[:plan.senders])]
        pr = ctx.Process(target=_entry, args=(plan, i, mine, n_send, ready, go, out), daemon=True)
        pr.start()
        procs.append(pr)
    for _ in procs:
        ready.get(timeout=120)
    if probe is not None:
        probe()
    go.set()
    results = [out.get(timeout=plan.warmup + plan.duration + 60) for _ in procs]
    if probe is not None:
        probe()
    for pr in procs:
        pr.join(10)
    merged = WorkerResult()
    for r in results:
        merged.received += r.received
        merged.sent += r.sent
        merged.latencies_us += r.latencies_us
        merged.cpu_s += r.cpu_s
        merged.received_all += r.received_all
    return merged, plan.duration
