"""The window across a host change, on a LAN of network namespaces: Ann hosts from a terminal,
Bob chats from another, Carol in the window found the chat by herself, and a kiosk window
shows it on a wall. Ann quits; the window and the kiosk's banner say who hosts now and keep
the history, and what Carol types afterwards (real keys) reaches Bob through the new host."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..continuity.test_peers_lan import HANDED, peer, say, stop_all
from ..discovery.netlab import PYRTC, Lab, flat_lan, until
from .driver import keep_for_docs, opened, row, virtual_screen

pytestmark = pytest.mark.mdns


@pytest.fixture
def lan() -> Iterator[Lab]:
    with flat_lan("hw", 4) as lab:
        yield lab


@pytest.fixture
def display() -> Iterator[str]:
    with virtual_screen() as screen:
        yield screen


@pytest.fixture
def wall() -> Iterator[str]:
    """A screen of its own for the kiosk (it is full screen)."""
    with virtual_screen() as screen:
        yield screen


async def test_the_window_follows_the_chat_when_its_host_quits(lan: Lab, tmp_path: Path, display: str,
                                                               wall: str) -> None:
    ann = peer(lan, tmp_path, "n1", "Ann", "--host-if-none")
    bob = peer(lan, tmp_path, "n2", "Bob")
    try:
        async with opened(["--name", "Carol", "--interface", "10.77.0.3"], display=display,
                          home=tmp_path / "carol", netns=lan.ns("n3")) as w, \
                opened(["--kiosk", "--no-host", "--interface", "10.77.0.4"], display=wall,
                       home=tmp_path / "kiosk", netns=lan.ns("n4")) as kiosk:
            await w.wait("the chat found and joined", lambda s: s["connection"] == "connected"
                         and s["room"] == "General")
            await kiosk.wait("the kiosk showing General", lambda s: s["connection"] == "connected"
                             and s["room"] == "General")
            ann.expect(lambda s: "Carol joined #General" in s)
            say(ann, "before the change")
            await w.wait("Ann's message", lambda s: row(s, "before the change") is not None)

            say(ann, "/quit")
            assert ann.proc.wait(60) == 0
            s = await w.wait("the line that says who hosts now", lambda s: s["error"].startswith("Ann left; ")
                             and HANDED in s["error"] and s["connection"] == "connected")
            # Said before the status line, in full (the status line's end is clipped by the search field).
            assert s["topbar"]["error_text"]["shown"] and "Ann left" not in s["status"]
            bob.expect(lambda s: HANDED in s and "Ann left" in s)
            k = await kiosk.wait("the kiosk's banner", lambda s: s["kiosk"]["banner"].startswith("Ann left; ")
                                 and HANDED in s["kiosk"]["banner"])
            assert row(k, "before the change") is not None  # still showing the room, its history kept

            await w.fill("input", "after the change")  # real keys, Enter
            bob.expect(lambda s: s.endswith("Carol: after the change"))
            say(bob, "welcome to the new host")
            s = await w.wait("Bob's answer, the history kept", lambda s: row(s, "welcome to the new host") is not None
                             and row(s, "before the change") is not None and row(s, "after the change") is not None)
            mine = row(s, "after the change")
            assert mine is not None and mine["seq"] == 2  # numbered on from Ann's #1 by the new host
            await kiosk.wait("the kiosk following", lambda s: row(s, "welcome to the new host") is not None)
            img, _ = await w.shot(tmp_path / "host-change.png")
            keep_for_docs(img, "host-change.png")
            img, _ = await kiosk.shot(tmp_path / "kiosk-host-change.png")
    finally:
        try:
            stop_all(ann, bob)
        except subprocess.SubprocessError:
            pass


async def test_a_window_that_hosted_from_its_start_hands_over_everything_it_holds(
        lan: Lab, tmp_path: Path, display: str) -> None:
    """Carol's window hosts the chat from its start; Bob joins from a terminal. Carol makes a
    room of her own, writes there, and closes the window: Bob hosts now, with her room and
    its message (her server's copies pushed as the window closed: once, it only told everyone
    who hosts next, and a room nobody else was in was gone from the chat)."""
    bob = None
    try:
        async with opened(["--name", "Carol", "--interface", "10.77.0.1", "--host-if-none"], display=display,
                          home=tmp_path / "carol", netns=lan.ns("n1")) as w:
            await w.wait("hosting", lambda s: s["connection"] == "connected" and s["status"].startswith("host mode"))
            bob = peer(lan, tmp_path, "n2", "Bob")
            await w.fill("new_room", "Corner")
            await w.wait("her room shown", lambda s: s["room"] == "Corner")
            await w.fill("input", "only in here")
            await w.wait("✓ sent", lambda s: (row(s, "only in here") or {}).get("seq") == 1)
            await w.wait("Bob in the roster: he can take the chat", lambda s: "Bob" in s["roster"])
        bob.expect(lambda s: s == "-- Carol left; you are hosting this chat now")

        def corner() -> subprocess.CompletedProcess[str]:  # from n3, found over mDNS
            return lan.run("n3", ["env", f"PYRTC_SETTINGS={tmp_path}/n3/settings.json", *PYRTC, "tail", "--room",
                                  "Corner", "--since", "0", "--json", "--log-dir", str(tmp_path / "n3")],
                           timeout=60)
        r = until(lambda r: r.returncode == 0, corner)
        assert r.returncode == 0, r.stderr
        assert [(m["seq"], m["sender"], m["text"]) for m in map(json.loads, r.stdout.splitlines())] == [
            (1, "Carol", "only in here")]
    finally:
        if bob is not None:
            stop_all(bob)
