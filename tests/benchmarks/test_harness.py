"""The benchmark harness itself works (it asserts that messages flow, never how fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import loadgen, systems


@pytest.mark.parametrize("kind", ["pyrtc", "pyrtc-tls", "baseline"])
def test_load_generator_drives_each_system(tmp_path: Path, kind: str) -> None:
    srv = (systems.start_baseline(tmp_path) if kind == "baseline"
           else systems.start_pyrtc(tmp_path, tls=kind.endswith("tls")))
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
