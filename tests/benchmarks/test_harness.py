"""The benchmark harness itself works (it asserts that messages flow, never how fast)."""

from __future__ import annotations

import os
from array import array
from pathlib import Path

import pytest

from . import loadgen, systems


def _start(kind: str, tmp_path: Path) -> systems.ServerProc:
    if kind == "baseline":
        return systems.start_baseline(tmp_path)
    if kind == "redis":
        binary = systems.redis_path()
        assert binary, "redis-tools did not install (scripts/test.sh installs it)"
        return systems.start_redis(tmp_path, binary)
    return systems.start_pyrtc(tmp_path, tls=kind.endswith("tls"))


@pytest.mark.parametrize("kind", ["pyrtc", "pyrtc-tls", "baseline", "redis"])
def test_load_generator_drives_each_system(tmp_path: Path, kind: str) -> None:
    srv = _start(kind, tmp_path)
    try:
        res, _ = loadgen.run(loadgen.Plan(srv.name, srv.port, clients=6, senders=2, duration=0.5,
                                          warmup=0.2, procs=2))
    finally:
        srv.stop()
    assert res.sent > 0
    assert res.received >= res.sent  # every message reaches every one of the 6 clients
    assert res.latencies_us and min(res.latencies_us) > 0


def test_baseline_is_the_tutorial_design() -> None:
    source = (Path(__file__).parent / "baseline_chat.py").read_text()
    for trait in ("threading.Thread", "threading.Lock", "json.dumps", "base64", "sendall", "TCP_NODELAY"):
        assert trait in source


def test_own_core_placement_pins_server_and_load_generator(tmp_path: Path) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, load_cpus = frozenset(cpus[:1]), frozenset(cpus[1:] or cpus)
    srv = systems.start_pyrtc(tmp_path)
    try:
        srv.pin(server_cpu)
        for task in Path(f"/proc/{srv.pid}/task").iterdir():  # every thread, not just the main one
            assert os.sched_getaffinity(int(task.name)) == server_cpu
        res, _ = loadgen.run(loadgen.Plan(srv.name, srv.port, clients=4, senders=4, duration=0.5,
                                          warmup=0.2, mode="steady", total_rate=40, procs=1,
                                          cpus=load_cpus))
    finally:
        srv.stop()
    assert res.sent > 0 and res.received >= res.sent


def test_compare_marks_a_figure_worse_in_its_own_direction() -> None:
    from .compare import Figure, table

    rate = Figure("fan-out deliveries/s, TCP", "1/s", higher_is_better=True)
    rate.runs = {"old": [100.0, 110.0, 90.0], "new": [94.0, 96.0, 200.0]}  # medians 100 and 96
    cpu = Figure("server CPU per delivery, TCP", "µs", higher_is_better=False)
    cpu.runs = {"old": [1.0], "new": [1.1]}
    p99 = Figure("p99", "ms", higher_is_better=False, pct=0.99)
    p99.pooled = {"old": array("f", [1.0] * 99 + [5.0]), "new": array("f", [1.0] * 100)}
    assert round(rate.change(), 3) == -0.04 and round(cpu.change(), 3) == -0.091 and p99.value("new") == 1.0
    rows = table([rate, cpu, p99], limit=0.05).splitlines()[2:]
    assert [r.split()[-1] for r in rows] == ["ok", "WORSE", "ok"]


def test_compare_speaks_to_each_checkout_in_its_own_protocol() -> None:
    """An older checkout (protocol 2: no greeting, the hello first) gets clients that say
    hello first; one of this protocol the ordinary clients. Its version is asked of its
    own interpreter."""
    import sys

    import pyrtc.protocol as p

    from .compare import HelloFirst, Side, _protocol_of

    here = Path(__file__).resolve().parents[2]
    assert _protocol_of(sys.executable, here) == p.PROTOCOL_VERSION >= 3
    assert Side("old", sys.executable, here, protocol=2).adapter is HelloFirst
    assert Side("new", sys.executable, here).adapter is None
