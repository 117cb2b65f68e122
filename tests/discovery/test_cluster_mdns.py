"""Every server of a cluster's chat announces the chat id; `pyrtc servers` lists the chat once
with all its servers. Real zeroconf and a real nats-server, in network namespaces."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..cluster.natsd import nats_binary
from .netlab import Lab, flat_lan, until
from .test_mdns import Proc, start_server

pytestmark = pytest.mark.mdns


@pytest.fixture
def lan() -> Iterator[Lab]:
    with flat_lan("cl", 4) as lab:
        yield lab


def test_the_servers_of_one_chat_are_listed_once_as_that_chat(lan: Lab, tmp_path: Path) -> None:
    nats = Proc(lan, "n2", [nats_binary(), "-js", "-a", "10.77.0.2", "-p", "4222", "-sd", str(tmp_path / "js")])
    procs = [nats]
    try:
        nats.expect(lambda s: "Server is ready" in s)
        cluster = ("--cluster", "nats://10.77.0.2:4222", "--chat-id", "campus")
        procs += [start_server(lan, "n1", "Alpha", tmp_path, *cluster)[0],
                  start_server(lan, "n3", "Beta", tmp_path, *cluster)[0],
                  start_server(lan, "n4", "Solo", tmp_path)[0]]
        human = until(lambda r: "chat campus on 2 servers" in r.stdout and "Solo" in r.stdout,
                      lambda: lan.pyrtc("n2", "servers", "--timeout", "2", log_dir=tmp_path / "h"))
        lines = human.stdout.splitlines()
        assert sum("chat campus" in line for line in lines) == 1  # the chat once ...
        at = next(i for i, line in enumerate(lines) if "chat campus" in line)
        assert sorted(line.split()[0] for line in lines[at + 1:at + 3]) == ["Alpha", "Beta"]  # ... with its servers
        assert all(lines[i].startswith("  ") for i in (at + 1, at + 2))
        assert sum(line.startswith("Solo") for line in lines) == 1  # a server alone stays a row of its own
        def listed(r: object) -> dict[str, object]:
            return {e["name"]: e for e in map(json.loads, r.stdout.splitlines())}  # type: ignore[attr-defined]

        r = until(lambda r: {"Alpha", "Beta", "Solo"} <= set(listed(r)),
                  lambda: lan.pyrtc("n2", "servers", "--json", "--timeout", "2", log_dir=tmp_path / "j"))
        entries = listed(r)
        chats = {name: e["chat"] for name, e in entries.items()}  # type: ignore[index]
        # A server alone is a chat of its own: its id (the id a peer-hosted chat keeps from host to host).
        assert chats["Alpha"] == chats["Beta"] == "campus" and chats["Solo"] == entries["Solo"]["id"]  # type: ignore[index]
    finally:
        for p in reversed(procs):
            p.stop()

