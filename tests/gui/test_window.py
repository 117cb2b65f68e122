"""The real window under Xvfb against a real server, driven through its real controls: clicks
and keys are X events (xdotool) aimed at the rectangles the window reports; each outcome is
checked in the server's view (a headless client) and in a screenshot."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pyrtc.client import ClientSession
from pyrtc.gui.dialogs import FILE_DIALOG_SIZE
from pyrtc.gui.palette import DARK, LIGHT
from pyrtc.server import ChatServer

from ..conftest import server_config
from .driver import (
    ROOT,
    State,
    Window,
    center,
    close,
    drawn_in,
    file_dialog_at,
    keep_for_docs,
    opened,
    part,
    pixels_in,
    row,
    virtual_screen,
)

ALICE_SAYS = "Stand-up moved to 10:15 — room Ørsted"
CAROL_SAYS = "On my way, I'll keep you a seat"
TABLE_HEADER = (48, 48, 51)  # ImGui's own colour for the file list's header (the theme leaves it)


@pytest.fixture
def display() -> Iterator[str]:
    with virtual_screen() as screen:
        yield screen


@asynccontextmanager
async def chat(srv: ChatServer | tuple[str, int], display: str, home: Path, *args: str, name: str = "Carol",
               cwd: Path | None = None) -> AsyncIterator[Window]:
    """The window of `name`, connected to `srv` and showing General."""
    host, port = srv.address if isinstance(srv, ChatServer) else srv
    async with opened(["--server", f"{host}:{port}", "--name", name, *args], display=display, home=home,
                      cwd=cwd) as w:
        await w.wait("the chat", lambda s: s["mode"] == "chatting" and s["connection"] == "connected"
                     and s["room"] == "General")
        yield w


async def thumbs_up(w: Window, text: str, *, on: bool) -> None:
    """Put 👍 under the message through the palette (hover the message, React, then 👍), or
    take it back (click it)."""
    r = row(await w.state(), text) or {}
    reactions = r["reactions"]
    if on:
        await w.hover(part(r, lambda i: i["value"] == text))
        await w.click(await hover_bar(w, "action_react", r))
        await w.click(await w.item("👍 in the palette", lambda i: i["type"] in ("mvButton", "mvImageButton")
                                   and i["label"] == "👍"))
        await w.wait("👍 1 under the message", lambda s: labelled(row(s, text)["reactions"], "👍 1") is not None)  # type: ignore[index]
    else:
        await w.click(labelled(reactions, "👍 1") or {})
        await w.wait("👍 gone", lambda s: labelled(row(s, text)["reactions"], "👍") is None)  # type: ignore[index]


async def hover_bar(w: Window, tag: str, r: dict[str, Any] | None) -> dict[str, Any]:
    """A button of the hover bar, once the bar is shown for row `r` and holds still: it is
    placed by its measured width, which an autosized window takes a few frames to settle at
    when buttons come or go (Edit and Delete on one's own messages)."""
    assert r is not None
    await w.wait("the hover bar over the row", lambda s: s["actions_for"] == r["key"])
    held, before = 0, None
    while held < 3:
        now = await w.item("the hover bar", lambda i: i["tag"] == tag)
        held = held + 1 if before is not None and now["rect"] == before["rect"] else 0
        before = now
    return before


def labelled(state_items: list[dict[str, Any]], start: str) -> dict[str, Any] | None:
    return next((i for i in state_items if str(i["label"]).startswith(start)), None)


async def test_send_receipts_typing_reactions_and_theme(tmp_path: Path, display: str) -> None:
    picture = tmp_path / "sunset.png"
    Image.new("RGB", (640, 400), (200, 90, 30)).save(picture)
    async with ChatServer(server_config(tmp_path / "data", name="Design team")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Alice Martin") as alice, ClientSession(host, port, "Bob") as bob, \
                chat(srv, display, tmp_path / "carol") as w:
            await alice.join("General")
            await bob.join("General")
            first = await alice.send("General", ALICE_SAYS)
            await bob.send("General", "Thanks! I'll share the slides ✓")
            s = await w.wait("Alice's message", lambda s: row(s, ALICE_SAYS) is not None)
            img, s = await w.shot(tmp_path / "first.png")
            r = row(s, ALICE_SAYS)
            assert r is not None and r["sender"] == "Alice Martin"
            assert drawn_in(img, part(r, lambda i: i["value"] == ALICE_SAYS)["rect"], DARK.bg)
            avatar = part(r, lambda i: i["type"] == "mvDrawlist")["rect"]
            assert close(img.getpixel((center(avatar)[0], int(avatar[1]) + 6)), tuple(r["avatar"]))  # type: ignore[arg-type]
            # Shown is read: the window reports it (Carol joined after it was posted, so it is
            # not among those its ✓✓ wait for).
            await alice.wait_for(lambda st: (c := st.rooms["General"].members.get("Carol")) is not None
                                 and c.read >= first, 30)

            # Type a message and press Enter: the server has it (Alice receives it), the window
            # shows it with ✓✓ (delivered), then blue ✓✓ once Alice has read it.
            await w.fill("input", CAROL_SAYS)
            await alice.wait_for(lambda st: any(m.text == CAROL_SAYS and m.sender == "Carol"
                                                for m in st.rooms["General"].messages), 30)
            s = await w.wait("✓✓ delivered", lambda s: (row(s, CAROL_SAYS) or {}).get("status") == "delivered")
            assert s["inputs"]["input"]["value"] == ""
            mine = alice.find_message("General", lambda m: m.text == CAROL_SAYS)
            assert mine is not None
            await alice.mark_read("General", mine.seq)
            await bob.wait_for(lambda st: any(m.text == CAROL_SAYS for m in st.rooms["General"].messages), 30)
            await bob.mark_read("General", mine.seq)
            await w.wait("✓✓ read", lambda s: (row(s, CAROL_SAYS) or {}).get("status") == "read")
            img, s = await w.shot(tmp_path / "read.png")
            r = row(s, CAROL_SAYS)
            assert r is not None and r["mark"] == "✓✓"
            assert any(close(px, DARK.read, 30) for px in pixels_in(img, r["mark_rect"]))

            await alice.set_typing("General", True)
            await w.wait("the typing line", lambda s: s["typing"] == "Alice Martin is typing…")

            # React through the palette: "+" under Alice's message, then 👍.
            await thumbs_up(w, ALICE_SAYS, on=True)
            await alice.wait_for(lambda st: "Carol" in st.rooms["General"].by_seq[first].reactions.get("👍", set()),
                                 30)

            # A picture: its preview is the server's thumbnail, pixel for pixel at its centre.
            await alice.upload("General", picture)
            s = await w.wait("the preview", lambda s: any(i["type"] == "mvImage" for r in s["rows"] for i in r["parts"]))
            await alice.set_typing("General", False)
            await w.wait("no typing line", lambda s: s["typing"] == "")
            await w.xdotool("mousemove", "1200", "780")  # off the window: no hover bar in the picture
            await w.wait("no hover bar", lambda s: not s["actions"])
            dark, s = await w.shot(tmp_path / "dark.png")
            assert not any(r["unread"] for r in s["rows"])  # nothing was unread when General was opened
            image = next(i for r in s["rows"] for i in r["parts"] if i["type"] == "mvImage")["rect"]
            info = alice.find_message("General", lambda m: m.file is not None)
            assert info is not None and info.file is not None and info.file.thumb_id
            thumb = Image.open(srv.blobs.path(info.file.thumb_id)).convert("RGB")  # type: ignore[arg-type]
            assert image[2] - image[0] == thumb.width
            assert close(dark.getpixel(center(image)), thumb.getpixel((thumb.width // 2, thumb.height // 2)))  # type: ignore[arg-type]
            mine_thumb = labelled((row(s, ALICE_SAYS) or {})["reactions"], "👍 1")
            assert mine_thumb is not None  # your own reaction is drawn in the accent colour
            assert any(close(px, DARK.accent, 12) for px in pixels_in(dark, mine_thumb["rect"]))
            keep_for_docs(dark, "window-dark.png")

            # The viewer: a click on the preview shows the original (640 px wide, not the
            # 320 px thumbnail), fitted; "+" zooms it.
            await w.click(next(i for r in s["rows"] for i in r["parts"] if i["type"] == "mvImage"))
            s = await w.wait("the original in the viewer", lambda s: s["viewer"]["showing"] == "original"
                             and (s["viewer"]["image"] or {}).get("visible"))
            view, s = await w.shot(tmp_path / "viewer.png")
            shown = s["viewer"]["image"]["rect"]
            assert shown[2] - shown[0] == 640 and shown[3] - shown[1] == 400, shown
            assert close(view.getpixel(center(shown)), (200, 90, 30), 12)  # type: ignore[arg-type]
            keep_for_docs(view, "viewer.png")
            await w.click(s["viewer"]["buttons"]["viewer_in"])
            s = await w.wait("zoomed in", lambda s: s["viewer"]["image"] is not None
                             and s["viewer"]["image"]["rect"][2] - s["viewer"]["image"]["rect"][0] == 800)
            await w.click(s["viewer"]["buttons"]["viewer_close"])
            s = await w.wait("the viewer closed", lambda s: not s["viewer"]["shown"])

            # Reply on the hover bar: the composer answers Bob's message (its quote goes with the
            # answer, test_conversations.py), until Cancel.
            bobs = "Thanks! I'll share the slides ✓"
            await w.hover(part(row(s, bobs) or {}, lambda i: i["value"] == bobs))
            await w.click(await hover_bar(w, "action_reply", row(s, bobs)))
            await w.wait("the reply to Bob", lambda s: s["compose_note"].startswith("Replying to Bob: Thanks!"))
            await w.click(await w.item("Cancel", lambda i: i["tag"] == "compose_cancel"))
            s = await w.wait("no reply under way", lambda s: s["compose_note"] == "")

            # The theme button: light, then dark again.
            await w.click(s["topbar"]["theme_button"])
            s = await w.wait("the light theme", lambda s: s["theme"] == "light"
                             and s["topbar"]["theme_button"]["label"] == "Dark")
            light, s = await w.shot(tmp_path / "light.png")
            m = s["messages_rect"]
            spot = (int(m[2]) - 30, int(m[3]) - 8)  # the empty bottom of the message area
            assert close(dark.getpixel(spot), DARK.bg, 3) and close(light.getpixel(spot), LIGHT.bg, 3)  # type: ignore[arg-type]
            keep_for_docs(light, "window-light.png")
            await w.click(s["topbar"]["theme_button"])
            await w.wait("the dark theme", lambda s: s["theme"] == "dark")


async def test_attach_a_file_through_the_file_dialog(tmp_path: Path, display: str) -> None:
    """Pick a file in the dialog, press OK: it is uploaded (Dear PyGui's dialog reports the
    real path only among its selections)."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    Image.new("RGB", (320, 200), (30, 140, 200)).save(folder / "beach.png")
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Alice") as alice, \
                chat(srv, display, tmp_path / "carol", cwd=folder) as w:
            await alice.join("General")
            attach = await w.item("the Attach button", lambda i: i["type"] == "mvButton" and i["label"] == "Attach")
            await w.click(attach)
            await w.wait("the file dialog", lambda s: s["file_dialog"])
            img, _ = await w.shot(tmp_path / "dialog.png")
            spots = file_dialog_at(img, title=DARK.accent, background=DARK.bg, button=DARK.button,
                                   header=TABLE_HEADER, height=FILE_DIALOG_SIZE[1])
            await w.click(spots["first_entry"])  # beach.png, the folder's only file
            await w.click(spots["ok"])
            await w.wait("the dialog to close", lambda s: not s["file_dialog"])
            await alice.wait_for(lambda st: any(m.file is not None and m.file.name == "beach.png"
                                                and m.sender == "Carol" for m in st.rooms["General"].messages), 30)
            assert srv.blobs.path(alice.find_message("General", lambda m: m.file is not None).file.blob_id)  # type: ignore[union-attr]
            s = await w.wait("the picture in the chat", lambda s: any(
                i["type"] == "mvImage" for r in s["rows"] if r["sender"] == "Carol" for i in r["parts"]))
            shot, s = await w.shot(tmp_path / "attached.png")
            image = next(i for r in s["rows"] for i in r["parts"] if i["type"] == "mvImage")["rect"]
            assert close(shot.getpixel(center(image)), (30, 140, 200), 12)  # type: ignore[arg-type]


async def test_a_search_hit_shows_its_message_and_hits_go_with_the_room(tmp_path: Path, display: str) -> None:
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Alice") as alice:
            await alice.join("General")
            for i in range(20):
                await alice.send("General", f"hay {i}")
            needle = await alice.send("General", "the needle is here")
            for i in range(20, 60):
                await alice.send("General", f"hay {i}")
            await alice.create_room("Side")
            async with chat(srv, display, tmp_path / "carol") as w:

                def in_view(s: State, text: str = "the needle is here") -> bool:
                    r, m = row(s, text), s["messages_rect"]
                    return r is not None and m[1] <= r["rect"][1] and r["rect"][3] <= m[3]

                s = await w.wait("the newest message in view", lambda s: in_view(s, "hay 59"))
                assert not in_view(s)  # far above, out of view
                await w.fill("search", "needle")
                hit = await w.item("the search hit", lambda i: i["type"] == "mvButton"
                                   and str(i["label"]).startswith(f"#{needle} Alice"))
                await w.click(hit)
                s = await w.wait("the message in view", in_view)
                img, s = await w.shot(tmp_path / "found.png")
                keep_for_docs(img, "search.png")
                r = row(s, "the needle is here")
                assert r is not None and in_view(s)
                assert drawn_in(img, part(r, lambda i: i["value"] == "the needle is here")["rect"], DARK.bg)

                join = await w.item("join # Side", lambda i: str(i["label"]).startswith("join # Side"))
                await w.click(join)
                s = await w.wait("Side shown, without General's hits",
                                 lambda s: s["room"] == "Side" and not s["hits"])


async def test_rooms_create_join_leave_and_a_locked_one(tmp_path: Path, display: str) -> None:
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Alice") as alice:
            await alice.join("General")
            await alice.create_room("Side")
            await alice.create_room("Board", password="quarterly")
            async with chat(srv, display, tmp_path / "carol") as w:
                # Create: type a name, Enter. The server has the room, with Carol in it.
                await w.fill("new_room", "Projects")
                await w.wait("Projects shown", lambda s: s["room"] == "Projects" and "Projects" in s["rooms"])
                rooms = {r.name: r for r in await alice.list_rooms()}
                assert "Projects" in rooms and rooms["Projects"].members == 1
                # Leave: the server no longer counts Carol in it.
                leave = await w.item("leave # Projects", lambda i: i["label"] == "leave # Projects")
                await w.click(leave)
                await w.wait("Projects left", lambda s: "Projects" not in s["rooms"])
                rooms = {r.name: r for r in await alice.list_rooms()}
                assert rooms["Projects"].members == 0

                # Join: Carol appears among Side's members on the server.
                await alice.join("Side")
                await w.click(await w.item("join # Side", lambda i: str(i["label"]).startswith("join # Side")))
                await alice.wait_for(lambda st: "Carol" in st.rooms["Side"].members, 30)
                await w.wait("Side shown", lambda s: s["room"] == "Side")

                # A locked room: asked for its password, a wrong one said so, the right one joins.
                await w.click(await w.item("join # Board", lambda i: str(i["label"]).startswith("join # Board")))
                await w.wait("the password prompt", lambda s: s["password"]["shown"])
                await w.fill("room_password_input", "nope")
                s = await w.wait("the refusal", lambda s: s["password"]["error"] == "That is not its password.")
                assert s["password"]["text"] == "# Board needs its password." and "Board" not in s["rooms"]
                img, _ = await w.shot(tmp_path / "room-password.png")
                keep_for_docs(img, "room-password.png")
                await w.fill("room_password_input", "quarterly")
                await w.wait("Board joined", lambda s: s["room"] == "Board" and not s["password"]["shown"])
                await alice.join("Board", password="quarterly")
                assert "Carol" in alice.state.rooms["Board"].members

                # A name the server would refuse: the error stays on screen (not overwritten
                # by the status line in the next frame), in the error colour.
                await w.fill("new_room", "bad/name")
                s = await w.wait("the error", lambda s: "may hold only letters" in s["error"] + s["status"])
                later = await w.wait("a later frame", lambda t: t["frame"] > s["frame"] + 2)
                assert "may hold only letters" in later["error"], (later["error"], later["status"])
                img, later = await w.shot(tmp_path / "error.png")
                error = later["topbar"]["error_text"]
                assert error["visible"] and any(close(px, DARK.error, 30) for px in pixels_in(img, error["rect"]))


FLOOD_SERVER = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from pyrtc.server import ChatServer
    from tests.conftest import server_config

    async def main() -> None:
        cfg = server_config(Path(sys.argv[1]), max_rate=0.001, burst=int(sys.argv[2]))
        async with ChatServer(cfg) as srv:
            print(srv.address[1], flush=True)
            await asyncio.Event().wait()

    asyncio.run(main())
""")


async def test_refused_messages_leave_no_pending_row(tmp_path: Path, display: str) -> None:
    """The server refuses texts once its flood control is spent (reactions count; the client
    paces only its texts). Each refused text's "…" row goes, whatever its cid hashes to. The
    server (a process of its own) is stopped while the texts are typed, so that every one is
    drawn pending before its refusal arrives."""
    burst = 11  # the client paces itself to 90 %: 9 texts go out, all refused
    server = subprocess.Popen([sys.executable, "-c", FLOOD_SERVER, str(tmp_path / "data"), str(burst)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(await asyncio.to_thread(server.stdout.readline))
        async with ClientSession("127.0.0.1", port, "Alice") as alice, \
                chat(("127.0.0.1", port), display, tmp_path / "carol") as w:
            await alice.join("General")
            await alice.send("General", "react to me")
            await w.wait("Alice's message", lambda s: row(s, "react to me") is not None)
            for n in range(burst):  # toggling 👍 on and off spends the server's tokens
                await thumbs_up(w, "react to me", on=n % 2 == 0)
            assert (await w.state())["errors"] == []
            server.send_signal(signal.SIGSTOP)
            texts = [f"refused {n}" for n in range(1, burst * 9 // 10 + 1)]
            for text in texts:
                await w.fill("input", text)
                await w.wait(f"{text} pending", lambda s, text=text: text in [
                    r["text"] for r in s["rows"] if r["mark"] == "…"])
            server.send_signal(signal.SIGCONT)
            s = await w.wait("every refusal", lambda s: len(s["errors"]) == len(texts) and not s["pending"])
            assert all(e.startswith("slow down") for e in s["errors"]), s["errors"]
            # Every row drawn is a message held: no "…" row of a refused text stayed behind.
            assert [(r["text"], r["mark"]) for r in s["rows"]] == [("react to me", None)], s["rows"]
            img, s = await w.shot(tmp_path / "refused.png")
            m = s["messages_rect"]
            below = [m[0], s["rows"][0]["rect"][3] + 4, m[2] - 20, m[3] - 4]
            assert not drawn_in(img, below, DARK.bg, 20)  # nothing below the one message
            assert not any(m.text.startswith("refused") for m in alice.state.rooms["General"].messages)
    finally:
        server.send_signal(signal.SIGCONT)
        server.kill()
        server.wait(10)


async def test_reconnecting_status_keeps_the_buttons_in_the_window(tmp_path: Path, display: str) -> None:
    srv = ChatServer(server_config(tmp_path / "data"))
    await srv.start()
    try:
        async with chat(srv, display, tmp_path / "carol") as w:
            await srv.close()
            s = await w.wait("reconnecting", lambda s: s["connection"] == "reconnecting"
                             and s["status"].startswith("reconnecting") and "connection" in s["status"])
            img, s = await w.shot(tmp_path / "reconnecting.png")
            width = s["viewport"][0]
            for tag in ("theme_button", "mute_button"):
                button = s["topbar"][tag]
                assert button["visible"] and button["rect"][2] <= width, (tag, button, s["status"])
                assert drawn_in(img, button["rect"], DARK.button)  # its label is drawn
            await w.click(s["topbar"]["mute_button"])
            await w.wait("muted", lambda s: s["topbar"]["mute_button"]["label"] == "Unmute")
    finally:
        await srv.close()


async def test_a_taken_name_is_chosen_again_in_the_window(tmp_path: Path, display: str) -> None:
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Carol") as other:
            await other.join("General")
            async with opened(["--server", f"{host}:{port}", "--name", "Carol"], display=display,
                              home=tmp_path / "carol") as w:
                s = await w.wait("the name prompt", lambda s: s["name_prompt"]["shown"])
                assert "in use" in s["name_prompt"]["error"], s["name_prompt"]
                await w.fill("name_input", "Carol B")
                await w.wait("the chat", lambda s: s["mode"] == "chatting" and s["connection"] == "connected"
                             and s["me"] == "Carol B" and not s["name_prompt"]["shown"])
                await other.wait_for(lambda st: "Carol B" in st.rooms["General"].members
                                     and st.rooms["General"].members["Carol B"].online, 30)
