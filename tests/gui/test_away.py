"""Away by itself, as the window shows it: after ten idle minutes (the window's session is
told that much time passed without input) the status drop-down says "away", as everyone
else sees it; the next key pressed (a real X event) makes it "available" again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrtc.client import ClientSession
from pyrtc.server import ChatServer

from ..conftest import server_config
from .driver import virtual_screen
from .test_window import chat


@pytest.fixture
def display() -> Iterator[str]:
    with virtual_screen() as screen:
        yield screen


async def test_the_status_drop_down_follows_away_after_idle_and_back(tmp_path: Path, display: str) -> None:
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Alice") as alice, chat(srv, display, tmp_path / "carol") as w:
            await alice.join("General")
            s = await w.wait("chatting in General", lambda s: s["room"] == "General" and s["connection"] == "connected")
            assert s["my_status"] == "available"
            assert (await w.request("idle_for", seconds=11 * 60))["done"]
            await alice.wait_for(lambda st: st.status_of("Carol") == "away", 30)
            await w.wait("the drop-down saying away", lambda s: s["my_status"] == "away")
            await w.key("shift")  # any key counts as input
            await alice.wait_for(lambda st: st.status_of("Carol") == "", 30)
            await w.wait("the drop-down saying available", lambda s: s["my_status"] == "available")
