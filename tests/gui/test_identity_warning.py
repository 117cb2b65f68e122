"""The window's warning when a remembered server shows another identity (issue 17): either
answer is acted on. "Do not connect" leaves the window saying it is not connected and what to
do, never "connecting" behind a closed dialog; the same address again warns again, and "I trust
the new identity" connects. Real servers on 127.0.0.1, the real window under Xvfb, clicks as X
events."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrtc.server import ChatServer
from pyrtc.server.connection import Connection

from ..conftest import server_config
from .driver import ROOT, Window, opened, virtual_screen

PYRTC = [sys.executable, "-m", "pyrtc"]


@pytest.fixture
def display() -> Iterator[str]:
    with virtual_screen() as screen:
        yield screen


async def met_before(home: Path, address: str) -> None:
    """Carol sent a message there once (`pyrtc send`): her settings remember the server."""
    env = dict(os.environ, PYRTC_SETTINGS=str(home / ".config" / "settings.json"), PYTHONPATH=str(ROOT))
    proc = await asyncio.create_subprocess_exec(
        *PYRTC, "send", "--server", address, "--room", "General", "--name", "Carol", "met",
        "--log-dir", str(home / "logs"), env=env, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()


async def button(w: Window, label: str) -> dict[str, object]:
    """A button of the identity warning, on screen (so the warning is shown)."""
    return await w.item(label, lambda i: i["type"] == "mvButton" and i["label"] == label, root="identity")


async def test_do_not_connect_says_not_connected_and_offers_the_ways_on(tmp_path: Path, display: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "carol"
    real = ChatServer(server_config(tmp_path / "real"))
    host, port = await real.start()
    address = f"{host}:{port}"
    try:
        await met_before(home, address)
    finally:
        await real.close()
    # Reinstalled where it was: the same id, a new certificate.
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "server-id").write_text((tmp_path / "real" / "server-id").read_text())
    again = ChatServer(server_config(tmp_path / "again", port=port))
    tries: list[Connection] = []  # the window's connections there, each one to be answered
    greet = again.connected
    monkeypatch.setattr(again, "connected", lambda conn: (tries.append(conn), greet(conn)))
    await again.start()
    try:
        assert again.fingerprint != real.fingerprint
        async with opened(["--server", address, "--name", "Carol"], display=display, home=home) as w:
            refuse = await button(w, "Do not connect")
            assert (await w.state())["mode"] == "connecting"  # waiting for the answer
            await w.click(refuse)
            s = await w.wait("not connected, said", lambda s: s["mode"] == "picking" and s["picker"]["shown"])
            said = f"Not connected: you chose not to connect to {address}, whose identity changed."
            assert s["status"].startswith(said) and s["picker"]["status"].startswith(said), s["status"]
            assert "type an address" in s["status"] and s["connection"] != "connected"

            # The same address again, typed in the picker: warned again (the warning, opened while
            # the picker's modal window was, closed with it: never shown), and trusted, it connects.
            await w.fill("manual_address", address)
            await w.click(await button(w, "I trust the new identity"))
            s = await w.wait("the chat", lambda s: s["mode"] == "chatting" and s["connection"] == "connected")
            assert s["status"].startswith(f"connected — test server ({address}) — you are Carol")
        # Refused, tried again when asked, trusted: nothing tried behind the user's back.
        assert len(tries) == 3
    finally:
        await again.close()
