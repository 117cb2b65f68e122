"""Badges: a count on a rounded pill (a room's unread messages, its mentions of you)."""

from __future__ import annotations

from typing import Any

import dearpygui.dearpygui as dpg

from .palette import RGB

__all__ = ["draw_badge", "BADGE_HEIGHT"]

BADGE_HEIGHT = 20
CHAR_WIDTH = 8.0  # the badge font's digits, at 13 px


def draw_badge(text: str, colour: RGB) -> Any:
    """A pill in `colour` with `text` in white, in the container being built."""
    width = max(BADGE_HEIGHT, int(len(text) * CHAR_WIDTH + 10))
    with dpg.drawlist(width, BADGE_HEIGHT) as d:
        dpg.draw_rectangle((0, 1), (width, BADGE_HEIGHT - 1), fill=colour, color=colour, rounding=(BADGE_HEIGHT - 2) / 2)
        dpg.draw_text((width / 2 - len(text) * CHAR_WIDTH / 2, 2), text, color=(255, 255, 255), size=14)
    return d
