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


async def test_download_on_a_card_under_the_hover_bar_downloads(tmp_path: Path, display: str) -> None:
    """A card that continues its sender's group has no name line for the hover bar to sit on:
    the bar must not come up over the card's Download (a click there pressed React, or on
    one's own file Delete)."""
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"the minutes\n" * 500)
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Alice") as alice, chat(srv, display, tmp_path / "carol") as w:
            await alice.join("General")
            await alice.send("General", "here are the minutes")
            await alice.upload("General", notes)
            s = await w.wait("the card under Alice's text", lambda s: any(
                i["label"] == "Download" and i["visible"] for r in s["rows"] for i in r["parts"]))
            card = next(r for r in s["rows"] if any(i["label"] == "Download" for i in r["parts"]))
            assert not card["header"], "the card continues Alice's group"
            download = next(i for i in card["parts"] if i["label"] == "Download")
            await w.hover(download)  # as a person does: the pointer rests, the bar comes up
            s = await w.wait("the hover bar for the card", lambda s: s["actions_for"] == card["key"])
            await w.hover((download["rect"][0] + 2, download["rect"][1] + 2))
            await w.wait("the bar still up", lambda s: s["actions_for"] == card["key"])
            await w.click(download)
            got = tmp_path / "carol" / "Downloads" / "notes.txt"
            s = await w.wait("the file downloaded", lambda s: got.exists() and got.read_bytes() == notes.read_bytes())
            assert not s["palette"], "the click opened the reaction palette instead"
