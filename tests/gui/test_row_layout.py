"""How a message row is laid out in the real window under Xvfb, driven by real clicks and
pointer moves (xdotool): "(edited)" ends the text of a message that has no header of its own;
the hover bar keeps its buttons in place from others' messages to one's own."""

from __future__ import annotations

from pathlib import Path

from pyrtc.client import ClientSession
from pyrtc.server import ChatServer

from ..conftest import server_config
from .driver import area, row
from .test_conversations import action
from .test_window import chat, display, hover_bar  # noqa: F401, F811 - the fixture

FIRST = "Morning! Two things for today"
TYPO = "Here is the agende for Monday"
FIXED = "Here is the agenda for Monday"


async def test_edited_ends_the_text_of_a_message_without_a_header(tmp_path: Path,
                                                                   display: str) -> None:  # noqa: F811
    """It stood on a line of its own under the text."""
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        async with chat(srv, display, tmp_path / "carol") as w:
            await w.fill("input", FIRST)
            await w.wait("the first message", lambda s: (row(s, FIRST) or {}).get("seq"))
            await w.fill("input", TYPO)
            s = await w.wait("the second, under the first one's header",
                             lambda s: (row(s, TYPO) or {}).get("seq") and not row(s, TYPO)["header"])  # type: ignore[index]
            await action(w, TYPO, "action_edit")  # hover the row, press Edit on its bar
            await w.wait("the edit bar", lambda s: s["compose_note"].startswith("Editing your message"))
            await w.fill("input", FIXED)
            s = await w.wait("(edited), laid out", lambda s: row(s, FIXED) is not None and any(
                i["value"] == "(edited)" and area(i["rect"]) > 0 for i in row(s, FIXED)["parts"]))  # type: ignore[index]
            r = row(s, FIXED)
            assert r is not None and not r["header"]
            mark = next(i for i in r["parts"] if i["value"] == "(edited)")["rect"]
            text = next(i for i in r["parts"] if str(i["value"]).startswith(FIXED))["rect"]
            middle = (mark[1] + mark[3]) / 2
            assert text[1] <= middle <= text[3], (mark, text)  # on the text's line
            assert mark[0] >= text[2] - 1, (mark, text)  # after it


async def test_the_hover_bar_keeps_its_buttons_in_place_over_own_and_others_messages(
        tmp_path: Path, display: str) -> None:  # noqa: F811
    """Edit and Delete (one's own messages only) made the bar wider there, and React, Reply
    and Copy jumped sideways from one row to the next."""
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Alice") as alice, chat(srv, display, tmp_path / "carol") as w:
            await alice.join("General")
            await alice.send("General", "Alice asks: lunch at noon?")
            await w.wait("Alice's message", lambda s: row(s, "Alice asks: lunch at noon?") is not None)
            await w.fill("input", "Carol says: sure, see you there")
            await w.wait("Carol's message", lambda s: (row(s, "Carol says: sure, see you there") or {}).get("seq"))
            places = {}
            for text in ("Alice asks: lunch at noon?", "Carol says: sure, see you there"):
                for attempt in range(5):  # a row that moved under the pointer: hover it again
                    s = await w.state()
                    r = row(s, text)
                    assert r is not None
                    await w.hover((int(r["rect"][0]) + 80 + attempt, int(r["rect"][3]) - 6))
                    s = await w.wait("a hover bar", lambda s: s["actions_for"] is not None)
                    if s["actions_for"] == r["key"]:
                        break
                react = await hover_bar(w, "action_react", r)
                copy = await hover_bar(w, "action_copy", r)
                places[text] = (react["rect"][0], copy["rect"][0])
                await w.xdotool("mousemove", "1200", "790")  # off the list: the bar goes
                await w.wait("no hover bar", lambda s: not s["actions"])
            others, own = places.values()
            assert abs(others[0] - own[0]) <= 1 and abs(others[1] - own[1]) <= 1, places
