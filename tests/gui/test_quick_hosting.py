"""The window hosts as quickly as it joins, and never makes a second chat: while it browses it
probes for the name its server would announce (questions only: nobody lists it), so "Host
here" announces at once; a chat found meanwhile is joined and the name never goes on the air.
Real windows and zeroconf in network namespaces; a sniffer on another node reads the air."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..continuity.test_quick_hosting import SNIFFER
from ..discovery.netlab import Lab, flat_lan
from ..discovery.test_mdns import Proc, start_server
from .driver import opened, virtual_screen

pytestmark = pytest.mark.mdns


@pytest.fixture
def lan() -> Iterator[Lab]:
    with flat_lan("qw", 3) as lab:
        yield lab


@pytest.fixture
def display() -> Iterator[str]:
    with virtual_screen() as screen:
        yield screen


def heard(sniffer: Proc) -> list[str]:
    sniffer.stop()
    while not sniffer.lines.empty():
        sniffer.seen.append(sniffer.lines.get_nowait())
    return [line for line in sniffer.seen if line != "listening"]


async def test_host_here_announces_at_once_its_name_probed_for_while_browsing(
        lan: Lab, tmp_path: Path, display: str) -> None:
    sniffer = Proc(lan, "n3", [sys.executable, "-c", SNIFFER, "10.77.0.3"])
    try:
        sniffer.expect(lambda s: s == "listening")
        async with opened(["--name", "Carol", "--interface", "10.77.0.1", "--data-dir", str(tmp_path / "hosted")],
                          display=display, home=tmp_path / "carol", netns=lan.ns("n1")) as w:
            for _ in range(3):  # probes, while the picker still looks
                sniffer.expect(lambda s: s == "probe 10.77.0.1")
            # The diagnosis ("Why: …") comes last and moves the button: clicked once it is there.
            await w.wait("nothing found, and why", lambda s: s["picker"]["status"].startswith("No PyRTC server found")
                         and "Why:" in s["picker"]["status"])
            await w.click(await w.item("Host here", lambda i: i["label"] == "Host here"))
            s = await w.wait("hosting", lambda s: s["mode"] == "chatting" and s["connection"] == "connected")
            assert s["status"].startswith("host mode — ")
            sniffer.expect(lambda s: s == "announce 10.77.0.1")
        assert heard(sniffer)[:4] == ["probe 10.77.0.1"] * 3 + ["announce 10.77.0.1"]  # no second round of probes
    finally:
        sniffer.stop()


async def test_a_chat_found_while_probing_is_joined_and_nothing_announced(
        lan: Lab, tmp_path: Path, display: str) -> None:
    sniffer = Proc(lan, "n3", [sys.executable, "-c", SNIFFER, "10.77.0.3"])
    srv = None
    try:
        sniffer.expect(lambda s: s == "listening")
        async with opened(["--name", "Carol", "--interface", "10.77.0.1", "--browse-time", "20", "--host-if-none"],
                          display=display, home=tmp_path / "carol", netns=lan.ns("n1")) as w:
            for _ in range(3):
                sniffer.expect(lambda s: s == "probe 10.77.0.1")
            srv, _ = start_server(lan, "n2", "Existing", tmp_path)  # inside the window's browse
            s = await w.wait("joined the chat found", lambda s: s["mode"] == "chatting"
                             and s["connection"] == "connected", timeout=90)
            assert s["status"].startswith("connected — Existing (10.77.0.2:")
            srv.stop()
        said = heard(sniffer)
        assert "announce 10.77.0.1" not in said, said  # no second chat, not even for a moment
        assert "announce 10.77.0.2" in said  # (the sniffer hears announcements)
    finally:
        sniffer.stop()
        if srv is not None:
            srv.stop()


async def test_host_here_pressed_while_still_looking_joins_the_chat_found(
        lan: Lab, tmp_path: Path, display: str) -> None:
    """A person presses Host here as soon as the picker shows, before the search is over: a
    chat on the network is joined, not doubled (a second host of it, or a second chat)."""
    srv, _ = start_server(lan, "n2", "Existing", tmp_path)
    try:
        async with opened(["--name", "Carol", "--interface", "10.77.0.1", "--browse-time", "20",
                           "--data-dir", str(tmp_path / "hosted")],
                          display=display, home=tmp_path / "carol", netns=lan.ns("n1")) as w:
            await w.wait("the picker, still looking", lambda s: s["picker"]["shown"]
                         and s["picker"]["status"].startswith("Looking for PyRTC servers"))
            await w.click(await w.item("Host here", lambda i: i["label"] == "Host here"))
            await w.wait("the press taken", lambda s: s["picker"]["status"].startswith("Still looking"))
            s = await w.wait("joined the chat found", lambda s: s["mode"] == "chatting"
                             and s["connection"] == "connected", timeout=90)
            assert s["status"].startswith("connected — Existing (10.77.0.2:"), s["status"]
    finally:
        srv.stop()
