"""Colour emoji and other scripts in the real window, checked by pixels: an emoji inside a
sentence is drawn in colour while the sentence's letters stay in the text font; Japanese is
drawn in its font; reactions are in colour; emoji textures are made once, not per frame."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pyrtc.client import ClientSession
from pyrtc.gui.emoji_images import color_emoji_font
from pyrtc.server import ChatServer

from ..conftest import server_config
from .driver import keep_for_docs, row, virtual_screen
from .test_window import chat, labelled

PLAIN = "Great work"
CHATTER = [("Bob", "Morning all ☀️☕ who's in for the 10:00 demo? 🙋"),
           ("Alice", "Me 🙌 bringing 🍩🍩🍩 for everyone"),
           ("Bob", "Shipped the release 🚀🎊 thanks team 💪👏"),
           ("山田", "東京チームもよろしく 🇯🇵 — 그리고 서울 팀도 🇰🇷"),
           ("Bob", "Family photo day 👨‍👩‍👧‍👦 ❤️ see you at 🕐")]
SENTENCE = "Great work 🎉 team, 日本語も大丈夫 👍"


@pytest.fixture
def display() -> Iterator[str]:
    with virtual_screen() as screen:
        yield screen


def crop(img: Image.Image, r: list[float]) -> np.ndarray:
    x0, y0, x1, y1 = (int(v) for v in r)
    return np.asarray(img.crop((x0, y0, x1, y1)).convert("RGB")).astype(int)


def saturated(px: np.ndarray) -> float:
    """The share of pixels in colour (not a grey of the text on the background)."""
    spread = px.max(axis=2) - px.min(axis=2)
    return float((spread > 90).mean())


def assert_cjk_drawn(img: Image.Image, item: dict[str, Any]) -> None:
    """Each of the first two CJK characters is drawn, each its own glyph (not one fallback box)."""
    glyphs = len(str(item["value"]).strip())
    x0, y0, x1, y1 = item["rect"]
    step = int((x1 - x0) / glyphs)
    first_two = [crop(img, [x0 + k * step, y0, x0 + (k + 1) * step, y1]) for k in range(2)]
    assert all((np.abs(g - g[0, 0]) > 40).mean() > 0.05 for g in first_two), item  # drawn
    assert (np.abs(first_two[0] - first_two[1]) > 40).mean() > 0.05, item  # 日 is not 本


async def test_emoji_in_a_sentence_are_in_colour_and_its_letters_in_the_text_font(tmp_path: Path,
                                                                                display: str) -> None:
    assert color_emoji_font() is not None, "needs Noto Color Emoji (apt fonts-noto-color-emoji, scripts/test.sh)"
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Alice") as alice, ClientSession(host, port, "Bob") as bob, \
                ClientSession(host, port, "山田") as yamada, chat(srv, display, tmp_path / "carol") as w:
            people = {"Alice": alice, "Bob": bob, "山田": yamada}
            for person in people.values():
                await person.join("General")
            for who, text in CHATTER:  # an emoji-heavy conversation (docs/window-emoji.png)
                said = await people[who].send("General", text)
            await bob.react("General", said, "😂")
            await alice.send("General", PLAIN)
            seq = await alice.send("General", SENTENCE)
            await alice.react("General", seq, "❤")
            s = await w.wait("both messages, the ❤ under the second", lambda s: row(s, SENTENCE) is not None
                             and row(s, PLAIN) is not None and labelled(row(s, SENTENCE)["reactions"], "❤ 1"))  # type: ignore[index]
            await w.xdotool("mousemove", "1200", "780")  # off the window: the shot shows no hover bar
            await w.wait("no hover bar", lambda s: not s["actions"])
            img, s = await w.shot(tmp_path / "emoji.png")
            plain, sentence = row(s, PLAIN), row(s, SENTENCE)
            assert plain is not None and sentence is not None

            # The emoji are pictures, in colour.
            images = [i for i in sentence["parts"] if i["type"] == "mvImage"]
            assert len(images) == 2, sentence["parts"]
            for image in images:
                assert saturated(crop(img, image["rect"])) > 0.25, image
            # The letters: grey text, and the very pixels of the same words in a message
            # without emoji (the text font, at the same place); the emoji are not in a line of Symbola.
            texts = [i for i in sentence["parts"] if i["type"] == "mvText" and i["value"]]
            first = next(i for i in texts if str(i["value"]).startswith(PLAIN))
            assert saturated(crop(img, first["rect"])) == 0.0
            word = next(i for i in plain["parts"] if i["value"] == PLAIN)["rect"]
            height = min(word[3] - word[1], first["rect"][3] - first["rect"][1])
            ours = crop(img, [first["rect"][0], first["rect"][1], first["rect"][0] + word[2] - word[0],
                              first["rect"][1] + height])
            theirs = crop(img, [word[0], word[1], word[2], word[1] + height])
            assert (np.abs(ours - theirs) > 40).mean() < 0.01, "the sentence's letters are not in the text font"
            assert (np.abs(theirs - theirs[0, 0]) > 40).mean() > 0.05  # and there are letters to compare
            # Japanese: in its own font, each character its own glyph (not one fallback box).
            assert_cjk_drawn(img, next(i for i in texts if "日本語" in str(i["value"])))
            yamada_row = next(r for r in s["rows"] if r["sender"] == "山田")
            assert_cjk_drawn(img, next(i for i in yamada_row["parts"] if i["value"] == "山田"))  # names too
            avatar = next(i for i in yamada_row["parts"] if i["type"] == "mvDrawlist" and i["rect"][2] - i["rect"][0] > 10)
            white = crop(img, avatar["rect"]).min(axis=2) > 200  # the glyph, on the coloured disc
            ys, xs = np.nonzero(white)
            assert len(ys) > 20, "a glyph on 山田's avatar"
            glyph = white[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
            # 山, not the fallback "�" (a diamond): its base stroke spans the glyph's width.
            assert glyph[-max(2, len(glyph) // 4):].mean(axis=1).max() > 0.8, glyph.astype(int)
            # The reaction: ❤ in colour, its count in the text font beside it.
            heart = labelled(sentence["reactions"], "❤ 1")
            assert heart is not None and heart["type"] == "mvImageButton"
            assert saturated(crop(img, heart["rect"])) > 0.1
            keep_for_docs(img, "window-emoji.png")

            # Made once: switching the theme redraws every row, and no emoji is rendered again.
            made = s["emoji_textures"]
            assert made >= 3
            await w.click(s["topbar"]["theme_button"])
            s = await w.wait("the light theme, redrawn", lambda s: s["theme"] == "light"
                             and row(s, SENTENCE) is not None)
            assert s["emoji_textures"] == made
