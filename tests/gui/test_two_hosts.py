"""Two hosts of one chat, one of them a window, on a LAN of network namespaces: Carol's window
hosts the chat from its start, Bob and Cy join from terminals. Cy is cut off at the bridge and
takes the chat over on his side (epoch 2) while Carol's window hosts on (epoch 1); both sides
post. When the link comes back the window's side yields to the higher epoch: one chat again,
every message of both sides in it once, and what Carol then types (real keys) reaches both.
Once, a window that hosted from its start never looked for another host: two chats stayed."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrtc.client import Identity
from pyrtc.client.identity import CERT_FILE, KEY_FILE

from ..continuity.test_peers_lan import HANDED, expect_all, peer, say, stop_all, tail
from ..discovery.netlab import Lab, flat_lan, until
from .driver import State, opened, row, virtual_screen

pytestmark = pytest.mark.mdns

YIELDED = "Carol left; Cy is hosting this chat now"  # what her server's clients read
LOST = "Cy is hosting this chat now; your side's messages are merged in"  # what Carol reads


@pytest.fixture
def lan() -> Iterator[Lab]:
    with flat_lan("pw", 4) as lab:
        yield lab


@pytest.fixture
def display() -> Iterator[str]:
    with virtual_screen() as screen:
        yield screen


def node_ids(tmp: Path) -> None:
    """Cy the lowest node id, then Bob, then Carol: cut off, Cy is his side's successor at once
    (no tries of Bob first), and no tie of epochs decides anything."""
    made = sorted((Identity.load_or_create(tmp / f"k{i}").uid, tmp / f"k{i}") for i in range(3))
    # The window's key lives beside its settings (driver.window_env: HOME/.config).
    for (_, folder), home in zip(made, (tmp / "n3", tmp / "n2", tmp / "carol" / ".config"), strict=True):
        home.mkdir(parents=True, exist_ok=True)
        for f in (KEY_FILE, CERT_FILE):
            shutil.copy(folder / f, home / f)


def w_hosting(s: State) -> bool:
    """The window's status line says it hosts the chat."""
    return str(s["status"]).startswith("host mode")


async def test_a_window_hosting_from_its_start_yields_to_a_host_of_a_higher_epoch(
        lan: Lab, tmp_path: Path, display: str) -> None:
    node_ids(tmp_path)
    bob = cy = None
    try:
        async with opened(["--name", "Carol", "--interface", "10.77.0.1", "--host-if-none",
                           "--data-dir", str(tmp_path / "carol" / "hosted")], display=display,
                          home=tmp_path / "carol", netns=lan.ns("n1")) as w:
            await w.wait("hosting", lambda s: s["connection"] == "connected" and s["status"].startswith("host mode"))
            bob = peer(lan, tmp_path, "n2", "Bob")
            cy = peer(lan, tmp_path, "n3", "Cy")
            await w.wait("Bob and Cy in the roster", lambda s: {"Bob", "Cy"} <= set(s["roster"]))
            await w.fill("input", "before")
            expect_all(cy, ["Carol: before"])

            lan.run("br", ["ip", "link", "set", "v3", "down"])  # Cy's port on the bridge
            cy.expect(lambda s: "you are hosting this chat now" in s)
            say(cy, "cy alone")
            cy.expect(lambda s: s.endswith("Cy: cy alone"))
            await w.fill("input", "carol side")
            await w.wait("✓ sent", lambda s: (row(s, "carol side") or {}).get("seq") == 2)
            say(bob, "bob side")
            await w.wait("Bob's post on the window's side", lambda s: (row(s, "bob side") or {}).get("seq") == 3)
            assert w_hosting(await w.state())

            lan.run("br", ["ip", "link", "set", "v3", "up"])
            s = await w.wait("the window's side yielding", lambda s: LOST in s["notices"]
                             and s["connection"] == "connected", timeout=90)
            bob.expect(lambda s: YIELDED in s)
            want = ["before", "cy alone", "carol side", "bob side"]
            got = until(lambda g: sorted(m["text"] for m in g) == sorted(want), lambda: tail(lan, tmp_path))
            assert sorted(m["text"] for m in got) == sorted(want)  # every message of both sides, once
            assert [m["seq"] for m in got] == [1, 2, 3, 4]

            await w.fill("input", "together again")  # real keys, through the winner
            for p in (bob, cy):
                p.expect(lambda s: s.endswith("Carol: together again"))
            s = await w.wait("every message once, numbered by the winner", lambda s: (
                row(s, "together again") or {}).get("seq") == 5 and all(row(s, t) is not None for t in want))
            assert sorted(r["text"] for r in s["rows"] if r["text"] in want) == sorted(want)  # none twice
            assert [n for n in s["notices"] if HANDED in n] == [LOST]  # one line, said once
            assert not w_hosting(s)  # its server is closed: nobody finds two chats
            await w.shot(tmp_path / "two-hosts.png")
    finally:
        try:
            stop_all(*(p for p in (bob, cy) if p is not None))
        except subprocess.SubprocessError:
            pass

