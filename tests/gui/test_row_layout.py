"""How a message row is laid out in the real window under Xvfb, driven by real clicks
(xdotool): "(edited)" ends the text of a message that has no header of its own."""

from __future__ import annotations

from pathlib import Path

from pyrtc.server import ChatServer

from ..conftest import server_config
from .driver import area, row
from .test_conversations import action
from .test_window import chat, display  # noqa: F401, F811 - the fixture

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
