"""Avatars: initials on a disc of one of AVATAR_COLOURS (palette.py), well apart in hue.

A name's colour comes from its hash; two names of one window never share a colour while
fewer than len(AVATAR_COLOURS) names have one (a taken colour sends the newcomer to the next
free one), so the first twelve people seen are twelve hues. A name keeps its colour for the
window's life."""

from __future__ import annotations

import hashlib
from typing import Any

import dearpygui.dearpygui as dpg

from .emoji_text import is_cjk
from .palette import AVATAR_COLOURS, RGB

__all__ = ["AvatarColours", "avatar_slot", "initials", "draw_avatar"]


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
        return ""  # 山田: a drawlist's text has no CJK glyphs (measured), so the disc alone
    if len(parts) == 1:
        return parts[0][:2].upper() if len(parts[0]) > 1 else parts[0].upper()
    return (parts[0][0] + parts[-1][0]).upper()


def draw_avatar(name: str, size: int, colour: RGB, font: Any = None) -> Any:
    """A disc in `colour` with the name's initials in white (in `font`, bold where given)."""
    with dpg.drawlist(size, size) as d:
        r = size / 2
        dpg.draw_circle((r, r), r - 1, fill=colour, color=colour)
        text = initials(name)
        fs = round(size * 0.45)
        width = fs * 0.62 * len(text)  # DejaVu Bold's capitals are ~0.62 em wide
        if text:
            dpg.draw_text((r - width / 2, r - fs * 0.58), text, color=(255, 255, 255), size=fs)
    if font is not None:
        dpg.bind_item_font(d, font)
    return d
