"""Acceptance: files survive a host change, with real `pyrtc` processes in network namespaces
on one bridge. Ann hosts and shares two files; Bob downloads the first, Cy neither. Ann quits:
Cy (the successor by the rule) hosts, and downloads the first through its own server, which
fetches it from Bob; the second left with Ann: "no longer available", on both."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pyrtc.client import Identity
from pyrtc.client.identity import CERT_FILE, KEY_FILE
from tests.continuity.test_peers_lan import lan, peer, say, stop_all
from tests.discovery.netlab import Lab

__all__ = ["lan"]  # the fixture, shared with test_peers_lan

GONE = "-- that file is no longer available: nobody still in the chat has it"


def node_ids_in_order(tmp: Path, *nodes: str) -> None:
    """Keys for `nodes`, the lowest node id first (the successor by the rule)."""
    made = sorted((Identity.load_or_create(tmp / f"k{i}").uid, tmp / f"k{i}") for i in range(len(nodes)))
    for (_, folder), node in zip(made, nodes, strict=True):
        (tmp / node).mkdir(exist_ok=True)
        for f in (KEY_FILE, CERT_FILE):
            shutil.copy(folder / f, tmp / node / f)


def test_a_file_a_peer_kept_survives_the_host_and_one_nobody_kept_is_gone(lan: Lab, tmp_path: Path) -> None:
    node_ids_in_order(tmp_path, "n3", "n2", "n1")  # Cy takes over from Ann
    kept, lost = tmp_path / "kept.bin", tmp_path / "lost.bin"
    kept.write_bytes(os.urandom(700_000))  # several chunks
    lost.write_bytes(os.urandom(5_000))
    ann = peer(lan, tmp_path, "n1", "Ann", "--host-if-none")
    bob = peer(lan, tmp_path, "n2", "Bob")
    cy = peer(lan, tmp_path, "n3", "Cy")
    try:
        ann.expect(lambda s: "Cy joined #General" in s)
        say(ann, f"/upload {kept}")
        first = int(ann.expect(lambda s: "-- uploaded kept.bin" in s).rsplit("#", 1)[1])
        say(ann, f"/upload {lost}")
        second = int(ann.expect(lambda s: "-- uploaded lost.bin" in s).rsplit("#", 1)[1])
        for p in (bob, cy):
            p.expect(lambda s: f"/download {second}" in s)
        say(bob, f"/download {first} {tmp_path / 'bob-kept.bin'}")
        bob.expect(lambda s: s.startswith("-- saved"))
        assert (tmp_path / "bob-kept.bin").read_bytes() == kept.read_bytes()
        say(ann, "/quit")
        assert ann.proc.wait(60) == 0
        cy.expect(lambda s: "Ann left; you are hosting this chat now" in s)
        bob.expect(lambda s: "Ann left; Cy is hosting this chat now" in s)
        say(cy, f"/download {first} {tmp_path / 'cy-kept.bin'}")
        cy.expect(lambda s: s.startswith(("-- saved", "!!", "-- that")))
        assert (tmp_path / "cy-kept.bin").read_bytes() == kept.read_bytes()  # from Bob's replica, through Cy's host
        for p, name in ((cy, "cy"), (bob, "bob")):
            say(p, f"/download {second} {tmp_path / f'{name}-lost.bin'}")
            assert p.expect(lambda s: s.startswith(("-- saved", "!!", "-- that"))) == GONE
            assert not (tmp_path / f"{name}-lost.bin").exists()
        say(bob, "still chatting")
        cy.expect(lambda s: s.endswith("Bob: still chatting"))
        assert not any("Traceback" in s for s in (*bob.seen, *cy.seen))
    finally:
        stop_all(ann, bob, cy)
