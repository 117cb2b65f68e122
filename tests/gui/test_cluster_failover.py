"""The window on a cluster's chat (docs/cluster.md) when its server dies: it moves to another
server of the chat by itself, resends what was unacknowledged, and says so. Real parts: a
nats-server with JetStream, two `pyrtc server --cluster` processes announcing the chat over
mDNS, the window found them by, on a LAN of network namespaces; a user made of X events; the
history checked through the other server with `pyrtc tail`."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..cluster.natsd import nats_binary
from ..discovery.netlab import Lab, flat_lan, until
from ..discovery.test_mdns import Proc, start_server
from .driver import keep_for_docs, opened, row, virtual_screen

pytestmark = pytest.mark.mdns


@pytest.fixture
def lan() -> Iterator[Lab]:
    """n1, n2: the chat's servers; n3: the window; n4: nats-server (10.77.0.N/24)."""
    with flat_lan("wf", 4) as lab:
        yield lab


@pytest.fixture
def display() -> Iterator[str]:
    with virtual_screen() as screen:
        yield screen


def history(lan: Lab, tmp: Path, server: str) -> list[tuple[int, str, str]]:
    """General's messages as `pyrtc tail` reads them through `server`: (seq, sender, text)."""
    r = lan.pyrtc("n4", "tail", "--server", server, "--room", "General", "--json",
                  log_dir=tmp / "tail")
    assert r.returncode == 0, r.stderr
    return [(m["seq"], m["sender"], m["text"]) for m in map(json.loads, r.stdout.splitlines())]


async def test_the_window_moves_to_another_server_of_the_chat_when_its_server_dies(
        lan: Lab, tmp_path: Path, display: str) -> None:
    nats = Proc(lan, "n4", [nats_binary(), "-js", "-a", "10.77.0.4", "-p", "4222", "-sd", str(tmp_path / "js")])
    procs = [nats]
    try:
        nats.expect(lambda s: "Server is ready" in s)
        cluster = ("--cluster", "nats://10.77.0.4:4222", "--chat-id", "campus")
        a, a_port = start_server(lan, "n1", "Campus A", tmp_path, *cluster)
        procs.append(a)
        b, b_port = start_server(lan, "n2", "Campus B", tmp_path, *cluster)
        procs.append(b)
        b_at = f"10.77.0.2:{b_port}"
        async with opened(["--name", "Carol", "--interface", "10.77.0.3", "--pick", "Campus A",
                           "--browse-time", "3"], display=display, home=tmp_path / "carol",
                          netns=lan.ns("n3")) as w:
            await w.wait("Carol in General through Campus A", lambda s: s["mode"] == "chatting"
                         and s["connection"] == "connected" and s["room"] == "General"
                         and s["server"] == "Campus A")
            await w.fill("input", "before the crash")
            await w.wait("the first message acknowledged", lambda s: not s["pending"]
                         and row(s, "before the crash") is not None)

            # Campus A stops answering with a message of Carol's unacknowledged, then dies.
            os.kill(a.proc.pid, signal.SIGSTOP)
            await w.fill("input", "sent while A hung")
            await w.wait("the message pending", lambda s: s["pending"] == ["sent while A hung"])
            a.proc.kill()
            a.proc.wait(30)

            s = await w.wait("the window on Campus B, saying what happened", lambda s: s["connection"] == "connected"
                             and s["server"] == "Campus B" and not s["pending"] and "stopped answering" in s["error"])
            assert s["error"] == (f"10.77.0.1:{a_port} stopped answering: moved to {b_at}, another server of "
                                  "this chat —"), s["error"]  # before the status line, which says where it is
            assert s["status"] == f"connected — Campus B ({b_at}) — you are Carol", s["status"]
            img, _ = await w.shot(tmp_path / "failover.png")
            keep_for_docs(img, "cluster-failover.png")
            await w.fill("input", "after the move")
            await w.wait("the next message acknowledged", lambda s: not s["pending"]
                         and row(s, "after the move") is not None)

        # Through Campus B: each message once, in order, the seqs gap-free.
        seen = until(lambda h: len(h) >= 3, lambda: history(lan, tmp_path, b_at))
        assert seen == [(1, "Carol", "before the crash"), (2, "Carol", "sent while A hung"),
                        (3, "Carol", "after the move")], seen
    finally:
        for p in reversed(procs):
            if p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait(30)
