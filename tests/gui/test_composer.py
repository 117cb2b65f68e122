"""The composer's emoji picker and completion, typed with real keys (xdotool): `:shortcode:`
with Tab, `@name` with Enter, a pick from the picker; the server gets the emoji."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrtc.client import ClientSession
from pyrtc.server import ChatServer

from ..conftest import server_config
from .driver import Window, virtual_screen
from .test_window import chat


@pytest.fixture
def display() -> Iterator[str]:
    with virtual_screen() as screen:
        yield screen


async def go_on(w: Window, nth: int) -> None:
    """Click the input past its text (the cursor goes to its end), as one goes on typing; each
    time elsewhere (two clicks on one spot within 0.3 s are a double click: it selects a word)."""
    field = (await w.state())["inputs"]["input"]
    x0, y0, x1, y1 = field["rect"]
    await w.click((int(x1) - 6 - 20 * nth, int((y0 + y1) / 2)))
    await w.wait("the input to take the keyboard", lambda s: s["inputs"]["input"]["active"])


async def holds(w: Window, text: str, *, suggestions: list[str] | None = None) -> None:
    """Wait for the input to hold `text` (and the list to offer `suggestions`); say what it holds if not."""
    try:
        await w.wait(f"the input to hold {text!r}", lambda s: s["inputs"]["input"]["value"] == text
                     and (suggestions is None or s["suggestions"] == suggestions), timeout=30)
    except AssertionError:
        s = await w.state()
        raise AssertionError(f"the input holds {s['inputs']['input']!r}, offering {s['suggestions']}") from None


async def test_shortcode_and_name_completion_and_the_picker(tmp_path: Path, display: str) -> None:
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Alice") as alice, chat(srv, display, tmp_path / "carol") as w:
            await alice.join("General")
            await w.wait("Alice among the members", lambda s: "Alice" in s["room_members"])
            await go_on(w, 0)

            await w.type("Nice :thumbs")
            await w.wait("shortcodes offered", lambda s: s["suggestions"][:2] == [":thumbsup:", ":thumbsdown:"])
            await w.key("Tab")
            await holds(w, "Nice 👍 ", suggestions=[])

            await go_on(w, 1)
            await w.type("@al")
            await w.wait("Alice offered", lambda s: s["suggestions"] == ["@Alice"])
            await w.key("Return")  # takes the suggestion, sends nothing
            await holds(w, "Nice 👍 @Alice ")

            await go_on(w, 2)
            await w.type("see :tada: ")  # a shortcode typed whole becomes its emoji when sent
            await holds(w, "Nice 👍 @Alice see :tada: ")
            await w.click(await w.item("the emoji button", lambda i: i["tag"] == "emoji_button"))
            await w.wait("the picker", lambda s: s["emoji_picker"])
            fire = await w.item("🔥 in the picker", lambda i: i["label"] == "🔥", root="emoji_grid")
            await w.click(fire)
            await w.wait("🔥 in the input", lambda s: not s["emoji_picker"]
                         and s["inputs"]["input"]["value"] == "Nice 👍 @Alice see :tada: 🔥")
            await go_on(w, 3)
            await w.key("Return")
            await alice.wait_for(lambda st: any(m.text == "Nice 👍 @Alice see 🎉 🔥" and m.sender == "Carol"
                                                for m in st.rooms["General"].messages), 30)
