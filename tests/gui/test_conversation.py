"""The conversation as drawn: one header per sender's run of messages, a separator between two
days, links that open, and the rooms' unread and mention badges. The real window under Xvfb,
checked by its state and by the pixels of a screenshot; clicks are real X events."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pyrtc.client import ClientSession
from pyrtc.gui.palette import DARK
from pyrtc.server import ChatServer
from pyrtc.store import Store
from pyrtc.units import human_size

from ..conftest import server_config
from .driver import (
    center,
    close,
    drawn_in,
    fake_opener,
    keep_for_docs,
    opened_links,
    part,
    pixels_in,
    row,
    virtual_screen,
)
from .test_window import chat

FILE_KINDS_PDF = (200, 50, 50)  # the PDF icon's colour (file_card.KINDS)


def noon(days_ago: int) -> float:
    lt = time.localtime()
    return time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday - days_ago, 12, 0, 0, 0, 0, -1))


def history(data: Path) -> None:
    """Messages of two days ago and of yesterday, as the server stored them then."""
    data.mkdir(parents=True)
    for days_ago, rows in ((2, [("Alice Martin", "Two days ago, first"), ("Alice Martin", "Two days ago, second"),
                                ("Bob", "Two days ago, Bob")]),
                           (1, [("Alice Martin", "Yesterday's news")])):
        store = Store(data / "history.db", clock=lambda d=days_ago: noon(d))  # type: ignore[misc]
        store.bulk_append("General", rows)
        store.close()


async def test_grouping_day_separators_links_and_badges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opener = fake_opener(tmp_path, monkeypatch)
    history(tmp_path / "data")
    link = "https://example.com/agenda"
    today = f"The agenda is at {link} for today"
    with virtual_screen() as display:
        async with ChatServer(server_config(tmp_path / "data", name="Design team")) as srv:
            host, port = srv.address
            async with ClientSession(host, port, "Alice Martin") as alice, \
                    chat(srv, display, tmp_path / "carol") as w:
                await alice.join("General")
                await alice.create_room("Side")
                await alice.send("General", today)
                s = await w.wait("today's message laid out", lambda s: (row(s, today) or {}).get("rect", [0, 0])[1] > 0)
                img, s = await w.shot(tmp_path / "conversation.png")
                first, second = row(s, "Two days ago, first"), row(s, "Two days ago, second")
                bob, yesterday, now = row(s, "Two days ago, Bob"), row(s, "Yesterday's news"), row(s, today)
                assert first and second and bob and yesterday and now
                # One header for Alice's two messages: the second has no avatar, no name line.
                assert [r["header"] for r in (first, second, bob, yesterday, now)] == [True, False, True, True, True]
                avatar = part(first, lambda i: i["type"] == "mvDrawlist")["rect"]
                colour = tuple(first["avatar"])
                assert close(img.getpixel(center(avatar)[:1] + (int(avatar[1]) + 6,)), colour)  # type: ignore[arg-type]
                gutter = [second["rect"][0], second["rect"][1], second["rect"][0] + 40, second["rect"][3]]
                assert not any(close(px, colour, 30) for px in pixels_in(img, gutter))
                assert not any(i["value"] == "Alice Martin" for i in second["parts"])
                assert second["rect"][3] - second["rect"][1] < first["rect"][3] - first["rect"][1] - 15
                # A separator between two days, drawn between the last row of one and the next.
                assert first["day"] == time.strftime("%A", time.localtime(noon(2)))
                assert (second["day"], bob["day"], yesterday["day"], now["day"]) == (None, None, "Yesterday", "Today")
                sep = part(yesterday, lambda i: i["type"] == "mvGroup" and i["label"] == "Yesterday")["rect"]
                text = part(yesterday, lambda i: i["value"] == "Yesterday's news")["rect"]
                assert bob["rect"][3] <= sep[1] and sep[3] <= text[1]
                assert drawn_in(img, [sep[0], sep[1], sep[0] + 120, sep[3]], DARK.bg)
                keep_for_docs(img, "conversation.png")

                # The link opens with the desktop's opener (a fake xdg-open here), once.
                await w.click(part(now, lambda i: i["type"] == "mvButton" and i["label"] == link))
                await w.wait("the link opened", lambda s: opened_links(opener) == [link])

                # A file that is not a picture: a card with its type's icon, name, size, Download.
                pdf = tmp_path / "minutes.pdf"
                pdf.write_bytes(b"%PDF-1.4\n" + b"x" * 20_000)
                await alice.upload("General", pdf)
                s = await w.wait("the file's card", lambda s: any(
                    i["value"] == "minutes.pdf" and i["visible"] for r in s["rows"] for i in r["parts"]))
                await w.xdotool("mousemove", "1200", "780")  # off the window: no hover bar, no tooltip
                await w.wait("no hover bar", lambda s: not s["actions"])
                img, s = await w.shot(tmp_path / "files.png")
                card = next(r for r in s["rows"] if any(i["value"] == "minutes.pdf" for i in r["parts"]))
                icon = part(card, lambda i: i["type"] == "mvDrawlist" and i["rect"][2] - i["rect"][0] == 36)["rect"]
                assert sum(close(px, FILE_KINDS_PDF, 6) for px in pixels_in(img, icon)) > 500  # the red page
                assert any(i["label"] == "Download" and i["visible"] for i in card["parts"])
                assert any(str(i["value"]).startswith(human_size(pdf.stat().st_size)) for i in card["parts"]), card["parts"]
                keep_for_docs(img, "files.png")

                # Badges: join Side, go back to General, Side gets two messages, one for Carol.
                await w.click(await w.item("join # Side", lambda i: str(i["label"]).startswith("join # Side")))
                await w.wait("Side shown", lambda s: s["room"] == "Side")
                await w.click(await w.item("# General", lambda i: i["type"] == "mvSelectable"
                                           and i["label"] == "# General"))
                await w.wait("General shown", lambda s: s["room"] == "General")
                await alice.send("Side", "news in Side")
                await alice.send("Side", "@Carol have a look")

                def badges(s: dict[str, object]) -> list[dict[str, object]]:
                    items = s["rooms_list"]  # type: ignore[assignment]
                    at = next(i for i, x in enumerate(items) if x["label"] == "# Side")  # type: ignore[index]
                    return [x for x in items[at + 1:at + 3] if x["type"] == "mvDrawlist"]  # type: ignore[index]

                s = await w.wait("two badges beside Side", lambda s: len(badges(s)) == 2)
                img, s = await w.shot(tmp_path / "badges.png")
                mention, unread = (b["rect"] for b in badges(s))
                assert any(close(px, DARK.badge_mention, 8) for px in pixels_in(img, mention))
                assert any(close(px, DARK.badge, 8) for px in pixels_in(img, unread))
                assert drawn_in(img, unread, DARK.badge, 60)  # its count, in white

                # The room opened with unread messages far above: a divider over the first of
                # them, and a button that brings it into view.
                for i in range(40):
                    await alice.send("Side", f"more news {i}")
                await w.click(await w.item("# Side", lambda i: i["type"] == "mvSelectable" and i["label"] == "# Side"))

                def divider_in_view(s: dict[str, object]) -> bool:
                    r, m = row(s, "news in Side"), s["messages_rect"]  # type: ignore[arg-type]
                    return r is not None and r["unread"] and m[1] <= r["rect"][1] and r["rect"][1] < m[3]  # type: ignore[index]

                s = await w.wait("the jump button", lambda s: s["room"] == "Side" and s["jump_unread"]["visible"]
                                 and (row(s, "more news 39") or {}).get("rect", [0, 0])[1] > 0)
                assert not divider_in_view(s) and row(s, "news in Side")["unread"]  # type: ignore[index]
                await w.click(s["jump_unread"])
                await w.wait("the first unread in view", divider_in_view)


async def test_a_link_no_program_opens_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the desktop's opener fails (no browser set up), a click on a link is answered
    with why, in the window, not met with nothing."""
    opener = fake_opener(tmp_path, monkeypatch, refuses="xdg-open: no method available for opening it")
    link = "https://example.com/minutes"
    with virtual_screen() as display:
        async with ChatServer(server_config(tmp_path / "data")) as srv:
            host, port = srv.address
            async with ClientSession(host, port, "Alice") as alice, chat(srv, display, tmp_path / "carol") as w:
                await alice.join("General")
                await alice.send("General", f"minutes: {link}")
                s = await w.wait("the link", lambda s: (row(s, f"minutes: {link}") or {}).get("rect", [0, 0])[1] > 0)
                await w.click(part(row(s, f"minutes: {link}"), lambda i: i["type"] == "mvButton" and i["label"] == link))  # type: ignore[arg-type]
                s = await w.wait("why it did not open", lambda s: "no method available" in s["error"])
                assert s["error"].startswith(f"Could not open {link}: xdg-open: no method available for opening it")
                assert opened_links(opener) == [link]  # it was asked once
