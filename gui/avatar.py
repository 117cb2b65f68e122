"""Avatars: initials on a disc of one of AVATAR_COLOURS (palette.py), well apart in hue.

A name's colour comes from its hash; two names of one window never share a colour while
fewer than len(AVATAR_COLOURS) names have one (a taken colour sends the newcomer to the next
free one), so the first twelve people seen are twelve hues. A name keeps its colour for the
window's life."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import dearpygui.dearpygui as dpg
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .emoji_text import is_cjk
from .palette import AVATAR_COLOURS, RGB
from .theme import ASSETS, Fonts

__all__ = ["AvatarColours", "avatar_slot", "initials", "draw_avatar", "ideograph_texture"]

log = logging.getLogger(__name__)


def avatar_slot(name: str) -> int:
    """The colour a name asks for (stable everywhere: a hash of its folded form)."""
    digest = hashlib.sha256(name.casefold().encode()).digest()
    return int.from_bytes(digest[:4], "big") % len(AVATAR_COLOURS)


class AvatarColours:
    """Colours given out to names in this window (see the module docstring)."""

    def __init__(self) -> None:
        self._given: dict[str, RGB] = {}

    def __call__(self, name: str) -> RGB:
        key = name.casefold()
        colour = self._given.get(key)
        if colour is None:
            slot = avatar_slot(name)
            taken = set(self._given.values())
            if len(taken) < len(AVATAR_COLOURS):
                while AVATAR_COLOURS[slot] in taken:
                    slot = (slot + 1) % len(AVATAR_COLOURS)
            colour = self._given[key] = AVATAR_COLOURS[slot]
        return colour


def initials(name: str) -> str:
    parts = [p for p in name.replace("_", " ").replace("-", " ").split() if p]
    if not parts:
        return "?"
    if is_cjk(parts[0][0]):
        return parts[0][0]  # 山田 → 山: one ideograph fills a disc as two Latin letters do
    if len(parts) == 1:
        return parts[0][:2].upper() if len(parts[0]) > 1 else parts[0].upper()
    return (parts[0][0] + parts[-1][0]).upper()


def draw_avatar(name: str, size: int, colour: RGB, fonts: Fonts | None = None) -> Any:
    """A disc in `colour` with the name's initials in white: bold capitals, or an ideograph
    drawn as a picture (a drawlist's text is in a font without CJK glyphs: it showed a box)."""
    text = initials(name)
    with dpg.drawlist(size, size) as d:
        r = size / 2
        dpg.draw_circle((r, r), r - 1, fill=colour, color=colour)
        fs = round(size * 0.45)
        glyph = ideograph_texture(text, round(size * 0.55)) if text and is_cjk(text[0]) else None
        if glyph is not None:
            half = round(size * 0.55) / 2
            dpg.draw_image(glyph, (r - half, r - half), (r + half, r + half))
        elif text and not is_cjk(text[0]):
            width = fs * 0.62 * len(text)  # DejaVu Bold's capitals are ~0.62 em wide
            dpg.draw_text((r - width / 2, r - fs * 0.58), text, color=(255, 255, 255), size=fs)
    if fonts is not None:
        dpg.bind_item_font(d, fonts.bold)
    return d


_ideographs: dict[tuple[str, int], str | None] = {}  # made once each, kept for the window's life


def ideograph_texture(ch: str, px: int, registry: str = "emoji_textures") -> str | None:
    """`ch` in white, px×px, from the bundled CJK font, as a texture (None: not drawable)."""
    key = (ch, px)
    if key not in _ideographs:
        tag = None
        try:
            font = ImageFont.truetype(str(ASSETS / "fonts" / "DroidSansFallback.ttf"), px * 4)  # drawn large, scaled down
            im = Image.new("RGBA", (px * 5, px * 5), (0, 0, 0, 0))
            ImageDraw.Draw(im).text((px // 2, px // 2), ch, font=font, fill=(255, 255, 255, 255))
            box = im.getbbox()
            if box is not None and dpg.does_item_exist(registry):
                im = im.crop(box)
                side = max(im.width, im.height)
                square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
                square.paste(im, ((side - im.width) // 2, (side - im.height) // 2))
                pixels = (np.asarray(square.resize((px, px), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0).ravel()
                tag = f"ideograph-{len(_ideographs)}-{px}"
                dpg.add_static_texture(px, px, pixels, tag=tag, parent=registry)
        except OSError as exc:  # the font file unreadable: the disc alone, said once
            log.warning("avatar %r not drawn: %s", ch, exc)
        _ideographs[key] = tag
    return _ideographs[key]
