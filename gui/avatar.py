"""Coloured initial avatars: the colour is stable per name (a hash, not an order)."""

from __future__ import annotations

import colorsys
import hashlib
from typing import Any

import dearpygui.dearpygui as dpg

__all__ = ["avatar_color", "initials", "draw_avatar"]


def avatar_color(name: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(name.casefold().encode()).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    r, g, b = colorsys.hls_to_rgb(hue, 0.50, 0.55)
    return round(r * 255), round(g * 255), round(b * 255)


def initials(name: str) -> str:
    parts = [p for p in name.replace("_", " ").replace("-", " ").split() if p]
    if not parts:
        return "?"
    if len(parts) == 1:
        return parts[0][:2].upper() if len(parts[0]) > 1 else parts[0].upper()
    return (parts[0][0] + parts[-1][0]).upper()


def draw_avatar(name: str, size: int) -> Any:
    """A circle in the name's colour with its initials, in the container being built."""
    colour = avatar_color(name)
    with dpg.drawlist(size, size) as d:
        r = size / 2
        dpg.draw_circle((r, r), r - 1, fill=colour, color=colour)
        text = initials(name)
        fs = size * 0.42
        dpg.draw_text((r - fs * 0.34 * len(text), r - fs * 0.6), text, color=(255, 255, 255), size=fs)
    return d
