"""`pyrtc server --cluster` says clearly why it cannot start."""

from __future__ import annotations

import socket
from pathlib import Path

from ..cli.procs import run


def test_a_server_that_cannot_reach_nats_says_so_and_exits(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run("server", "--cluster", f"nats://127.0.0.1:{port}", "--no-announce", "--host", "127.0.0.1", "--port", "0",
            "--data-dir", str(tmp_path / "d"), log_dir=tmp_path / "logs")
    assert r.returncode == 1
    assert f"cannot reach the cluster at nats://127.0.0.1:{port}" in r.stderr and "nats-server -js" in r.stderr


def test_a_chat_id_without_a_cluster_is_refused(tmp_path: Path) -> None:
    r = run("server", "--chat-id", "campus", "--no-announce", "--host", "127.0.0.1", "--port", "0",
            "--data-dir", str(tmp_path / "d"), log_dir=tmp_path / "logs")
    assert r.returncode != 0 and "--cluster" in r.stderr
    r = run("server", "--cluster", "nats://127.0.0.1:4222", "--chat-id", "not a chat id", "--no-announce",
            log_dir=tmp_path / "logs")
    assert r.returncode == 2 and "is not a chat id" in r.stderr
