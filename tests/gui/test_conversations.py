"""Direct messages, replies, edits, deletes, status and a pasted picture in the real window
under Xvfb, through its real controls (X events from xdotool); each outcome is checked in
the server's view (a headless client of the other person) and on screen."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import pyrtc.protocol as p
from pyrtc.client import ClientSession, Identity
from pyrtc.server import ChatServer

from ..conftest import server_config
from .driver import State, Window, center, close, fake_opener, keep_for_docs, opened_links, row
from .test_window import chat, display, hover_bar  # noqa: F401 - the fixture

ASKS = "Can you bring the *slides* to `room 4`?"
EDITED = "Here is the agenda for Monday"


async def button(w: Window, text: str, label: str) -> dict[str, Any]:
    """The button starting with `label` in the row showing `text`, once it is on screen."""
    s = await w.wait(f"the row {text!r}", lambda s: row(s, text) is not None)
    group = row(s, text)["parts"][0]["id"]  # type: ignore[index]
    return await w.item(f"{label} of {text!r}", lambda i: i["type"] == "mvButton"
                        and str(i["label"]).startswith(label), root=group)


async def action(w: Window, text: str, tag: str) -> None:
    """Hover the row showing `text` and press one of the hover bar's buttons (action_reply…).
    The row is hovered once it holds still (a send scrolls the list); the pointer moves again,
    a pixel further, if the bar came up for another row all the same."""
    for attempt in range(5):
        before = None
        while True:
            s = await w.wait(f"the row {text!r} laid out", lambda s: (row(s, text) or {}).get("rect", [0, 0])[1] > 0)
            rect = row(s, text)["rect"]  # type: ignore[index]
            if rect == before:
                break
            before = rect
        await w.hover((int(rect[0]) + 60 + attempt, int(rect[1]) + 8))
        for _ in range(20):  # states, not seconds: the bar follows the pointer within a frame or two
            s = await w.state()
            if s["actions_for"] == row(s, text)["key"]:  # type: ignore[index]
                await w.click(await hover_bar(w, tag, row(s, text)))
                return
    raise AssertionError(f"the hover bar never came up over {text!r}")


async def steady_link(w: Window, text: str, label: str) -> dict[str, Any]:
    """The link button in the row showing `text`, once the message is acknowledged (its row is
    drawn anew then) and the button holds still (a send scrolls the list), so that a click
    lands on the button it aimed at."""
    s = await w.wait(f"{text!r} acknowledged", lambda s: (row(s, text) or {}).get("seq"))
    before = None
    for _ in range(200):
        group = row(s, text)["parts"][0]["id"]  # type: ignore[index]
        link = await w.item("the link", lambda i: i["type"] == "mvButton" and i["label"] == label, root=group)
        if before is not None and link["id"] == before["id"] and link["rect"] == before["rect"]:
            return link
        before = link
        s = await w.state()
    raise AssertionError(f"the link in {text!r} never held still: {before}")


def in_view(s: State, text: str) -> bool:
    r, m = row(s, text), s["messages_rect"]
    return r is not None and m[1] <= r["rect"][1] and r["rect"][3] <= m[3]


async def test_direct_message_reply_edit_delete_status_and_a_pasted_picture(
        tmp_path: Path, display: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    opener = fake_opener(tmp_path, monkeypatch)
    picture = tmp_path / "screenshot.png"
    Image.new("RGB", (400, 260), (220, 40, 120)).save(picture)
    async with ChatServer(server_config(tmp_path / "data", name="Design team")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Alice", identity=Identity.generate(), follow_directs=True) as alice:
            await alice.join("General")
            async with chat(srv, display, tmp_path / "carol") as w:
                # Start the conversation from the member list: a click on Alice's name.
                await alice.set_status("busy", "in a call")
                s = await w.wait("Alice busy beside her name", lambda s: any(
                    i["type"] == "mvText" and i["value"] == "busy · in a call" and i["visible"] for i in s["members"]))
                member = await w.item("Alice's name", lambda i: i["type"] == "mvButton" and i["label"] == "Alice"
                                      and i["visible"], root="members_list")
                await w.click(member)
                s = await w.wait("the conversation with Alice", lambda s: p.is_direct(s["room"] or "")
                                 and s["title"] == "@Alice")
                room = s["room"]
                assert any(str(i["label"]).startswith("@ Alice · busy") for i in s["directs"])
                await w.fill("input", "Hi Alice!")
                await alice.wait_for(lambda st: room in st.rooms and len(st.rooms[room].messages) == 1, 30)
                hi = alice.state.rooms[room].messages[0]
                assert (hi.sender, hi.text) == ("Carol", "Hi Alice!")

                # Alice asks (formatted); an unread badge while another room is shown.
                general = await w.item("General in the rooms", lambda i: str(i["label"]).startswith("# General"),
                                       root="rooms_list")
                await w.click(general)
                await w.wait("General shown", lambda s: s["room"] == "General")
                asked = await alice.send(room, ASKS)
                s = await w.wait("the unread badge", lambda s: any(
                    i["type"] == "mvDrawlist" for i in s["directs"]))
                await w.click(await w.item("@ Alice", lambda i: str(i["label"]).startswith("@ Alice"),
                                           root="directs_list"))
                s = await w.wait("Alice's question", lambda s: s["room"] == room and row(s, ASKS) is not None)
                bold = [i for i in row(s, ASKS)["parts"] if i["type"] == "mvText" and i["value"] == "slides"]  # type: ignore[index]
                assert bold, "the bold word is a span of its own"

                # Reply through the hover bar's Reply.
                await action(w, ASKS, "action_reply")
                await w.wait("the reply bar", lambda s: s["compose_note"].startswith("Replying to Alice: Can you"))
                for i in range(30):  # the question scrolls far out of view before the answer goes
                    await alice.send(room, f"also {i}")
                s = await w.wait("the newest in view", lambda s: in_view(s, "also 29"))
                assert not in_view(s, ASKS)
                await w.fill("input", "Sure, I will")
                await alice.wait_for(lambda st: any(m.text == "Sure, I will" for m in st.rooms[room].messages), 30)
                reply = alice.find_message(room, lambda m: m.text == "Sure, I will")
                assert reply is not None and reply.reply_to == asked and reply.quote.startswith("Can you bring")
                s = await w.wait("the quote", lambda s: row(s, "Sure, I will") is not None and s["compose_note"] == "")
                quote = await button(w, "Sure, I will", "↪ Alice: Can you bring the slides to room 4?")  # no markers
                await w.click(quote)  # jumps to the original
                await w.wait("the question in view", lambda s: in_view(s, ASKS))

                # Edit our first message, then delete another of ours.
                await w.fill("input", "Here is the agende")
                await alice.wait_for(lambda st: any(m.text == "Here is the agende" for m in st.rooms[room].messages), 30)
                typo = alice.find_message(room, lambda m: m.text == "Here is the agende")
                assert typo is not None
                await action(w, "Here is the agende", "action_edit")
                await w.wait("the edit bar", lambda s: s["compose_note"].startswith("Editing your message"))
                await w.fill("input", EDITED)
                await alice.wait_for(lambda st: st.rooms[room].by_seq[typo.seq].text == EDITED, 30)
                assert alice.state.rooms[room].by_seq[typo.seq].edited > 0
                s = await w.wait("(edited)", lambda s: row(s, EDITED) is not None and any(
                    i["value"] == "(edited)" for i in row(s, EDITED)["parts"]))  # type: ignore[index]
                await w.fill("input", "oops, wrong chat")
                s = await w.wait("the slip", lambda s: (row(s, "oops, wrong chat") or {}).get("seq"))
                slip = row(s, "oops, wrong chat")["seq"]  # type: ignore[index]
                await action(w, "oops, wrong chat", "action_delete")
                await alice.wait_for(lambda st: st.rooms[room].by_seq[slip].deleted, 30)

                def deleted_shown(s: State) -> bool:
                    return any(r["seq"] == slip and any(i["value"] == "message deleted" for i in r["parts"])
                               for r in s["rows"])

                await w.wait("message deleted", deleted_shown)
                await w.fill("input", "see https://example.org/agenda")
                link = await steady_link(w, "see https://example.org/agenda", "https://example.org/agenda")
                await w.click(link)
                await w.wait("the link opened", lambda s: opened_links(opener) == ["https://example.org/agenda"])
                await w.xdotool("mousemove", "1200", "780")  # off the window: the shot shows no hover bar
                await w.wait("no hover bar", lambda s: not s["actions"])
                shot, s = await w.shot(tmp_path / "direct.png")
                assert opened_links(opener) == ["https://example.org/agenda"], "one click opens the link once"
                keep_for_docs(shot, "direct-messages.png")

                # Paste a picture: a clipboard owner under Xvfb, the button, the preview, Send.
                owner = subprocess.Popen(["xclip", "-selection", "clipboard", "-t", "image/png", "-i", str(picture)],
                                         env=dict(os.environ, DISPLAY=display))
                try:
                    await asyncio.to_thread(owner.wait, 10)  # xclip forks: its child owns the clipboard
                    await w.click(await w.item("Paste picture", lambda i: i["label"] == "Paste picture"))
                    s = await w.wait("the preview", lambda s: s["paste"])
                    preview, s = await w.shot(tmp_path / "preview.png")
                    image = await w.item("the preview image", lambda i: i["tag"] == "paste_image")
                    assert close(preview.getpixel(center(image["rect"])), (220, 40, 120), 12)  # type: ignore[arg-type]
                    await w.click(await w.item("Send picture", lambda i: i["label"] == "Send picture"))
                    await alice.wait_for(lambda st: any(m.file is not None and m.file.mime == "image/png"
                                                        for m in st.rooms[room].messages), 30)
                finally:
                    subprocess.run(["xclip", "-selection", "clipboard", "-i", "/dev/null"],
                                   env=dict(os.environ, DISPLAY=display), timeout=10, check=False)
                sent = alice.find_message(room, lambda m: m.file is not None)
                assert sent is not None and sent.sender == "Carol" and sent.file is not None
                assert (sent.file.width, sent.file.height) == (400, 260)
