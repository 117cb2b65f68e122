"""A file whose body nobody still in the chat keeps (it left with a host): the window's card
says "No longer available" in place of Download, and no error is shown. The real window
under Xvfb, driven by X events, against a real server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from pyrtc.client import ClientSession
from pyrtc.gui.file_card import GONE
from pyrtc.server import ChatServer

from ..conftest import server_config
from .test_window import chat, display

__all__ = ["display"]  # the fixture, shared with test_window


async def test_a_file_nobody_keeps_says_so_on_its_card(tmp_path: Path, display: str) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"kept by nobody\n" * 500)
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Alice") as alice, chat(srv, display, tmp_path / "carol") as w:
            await alice.join("General")
            await alice.upload("General", notes)
            found = alice.find_message("General", lambda m: m.file is not None)
            assert found is not None and found.file is not None
            srv.blobs.path(found.file.blob_id).unlink()  # as if it had left with an earlier host
            card = await w.item("the Download button", lambda i: i["type"] == "mvButton" and i["label"] == "Download")
            await w.click(card)
            s = await w.wait("the card says the file is gone", lambda s: any(
                i["type"] == "mvButton" and i["label"] == GONE for r in s["rows"] for i in r["parts"]))
            assert not any(i["label"] == "Download" for r in s["rows"] for i in r["parts"])
            assert not s["error"], s["error"]  # said on the card, not as an error
            assert not (tmp_path / "carol" / "Downloads" / "notes.txt").exists()
