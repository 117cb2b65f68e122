"""Scrolling the message list in the real window under Xvfb, with real wheel turns (xdotool
buttons 4 and 5): the hover bar never takes the wheel from the list; scrolling to the top
builds the older rows held, then asks the server for more, and keeps the row that was on
top in view."""

from __future__ import annotations

from pathlib import Path

from pyrtc.client import ClientSession
from pyrtc.server import ChatServer

from ..conftest import server_config
from .driver import State, center, row
from .test_window import chat, display, hover_bar  # noqa: F401, F811 - the fixture


def line(i: int) -> str:
    return f"line {i}: the quick brown fox jumps over the lazy dog"


def in_view(s: State, text: str) -> bool:
    r, m = row(s, text), s["messages_rect"]
    return r is not None and m[1] <= r["rect"][1] and r["rect"][3] <= m[3]


async def test_the_wheel_scrolls_the_list_with_the_pointer_on_the_hover_bar(tmp_path: Path, display: str) -> None:  # noqa: F811
    """The bar is a window of its own over the list: under the pointer it took every wheel turn
    and the list stood still."""
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Alice") as alice:
            await alice.join("General")
            for i in range(40):
                await alice.send("General", line(i))
            async with chat(srv, display, tmp_path / "carol") as w:
                s = await w.wait("the newest line in view", lambda s: in_view(s, line(39)) and s["follow"])
                target = line(36)
                assert in_view(s, target)
                r = row(s, target)
                assert r is not None
                await w.hover((int(r["rect"][0]) + 80, int(r["rect"][1]) + 8))
                when = await hover_bar(w, "action_time", r)  # the bar's date: no button to press
                await w.hover(center(when["rect"]))
                s = await w.wait("the pointer on the bar, the bar still shown",
                                 lambda s: s["actions_for"] == r["key"])
                top = s["scroll"][0]
                assert top > 100, s["scroll"]  # room to scroll up
                for _ in range(3):
                    await w.xdotool("click", "4")  # the wheel, up
                await w.wait("the list scrolled up", lambda s: s["scroll"][0] < top - 50, timeout=20)


async def test_scrolling_to_the_top_builds_older_rows_and_keeps_the_place(tmp_path: Path, display: str) -> None:  # noqa: F811
    """Following the newest message keeps a few dozen rows built; turning the wheel up to the
    top brings the older ones (those held, then the server's), the row that was on top still
    in view each time, down to the first message of the room."""
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Alice") as alice:
            await alice.join("General")
            for i in range(300):
                await alice.send("General", line(i))
            async with chat(srv, display, tmp_path / "carol") as w:
                s = await w.wait("the newest line in view", lambda s: in_view(s, line(299)) and s["follow"])
                built = len(s["rows"])
                assert built < 150, built  # not the whole room
                r = row(s, line(299))
                assert r is not None
                await w.hover((int(r["rect"][0]) + 80, int(r["rect"][1]) + 8))
                extended = 0
                for _ in range(300):  # wheel turns, not seconds: each brings the list up or older rows in
                    if row(s, line(0)) is not None and s["scroll"][0] <= 0:
                        break
                    top = s["rows"][0]["text"]
                    await w.xdotool("click", "4")
                    s = await w.state()
                    if len(s["rows"]) > built:  # older rows came in above: the old top one is still in view
                        s = await w.wait("the row that was on top, in view", lambda s, top=top: in_view(s, top))
                        built, extended = len(s["rows"]), extended + 1
                assert row(s, line(0)) is not None, "the first message never came"
                assert extended >= 2, extended  # held rows, then the server's page(s)
                assert len({r["text"] for r in s["rows"]}) == len(s["rows"]) == 300  # each message once
