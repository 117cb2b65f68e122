"""A message's text: runs of text and links.

`draw_text_run` is the one place a run of message text is drawn (colour emoji replace how a
run is drawn there and nowhere else). A short message keeps its links inline; a long one is
drawn wrapped, its links repeated as buttons under it (Dear PyGui wraps one text item, not
a line of several)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dearpygui.dearpygui as dpg

from .links import split_links
from .palette import RGB
from .theme import Theme, has_emoji

__all__ = ["draw_text_run", "draw_message_text", "INLINE_LIMIT"]

INLINE_LIMIT = 90  # characters: a message with links up to this long is one line, links inline
LINK_SHOWN = 70  # characters of a long link shown on its button


def draw_text_run(text: str, theme: Theme, *, color: RGB | None = None, wrap: int = 0) -> Any:
    """One run of message text in the container being built (wrap 0: at the window's edge,
    also after a resize; -1: never)."""
    kw: dict[str, Any] = {"wrap": wrap}
    if color is not None:
        kw["color"] = color
    item = dpg.add_text(text, **kw)
    if has_emoji(text):
        dpg.bind_item_font(item, theme.fonts.emoji)
    return item


def draw_message_text(text: str, theme: Theme, open_link: Callable[[str], None], *,
                      color: RGB | None = None) -> Any:
    """The text of one message; returns its first item."""
    runs = split_links(text)
    links = [run for run, is_link in runs if is_link]
    if not links:
        return draw_text_run(text, theme, color=color)
    if len(text) <= INLINE_LIMIT and "\n" not in text:
        with dpg.group(horizontal=True, horizontal_spacing=0) as line:
            for run, is_link in runs:
                if is_link:
                    _link(run, theme, open_link)
                else:
                    draw_text_run(run, theme, color=color, wrap=-1)
        return line
    first = draw_text_run(text, theme, color=color)
    for link in links:
        _link(link, theme, open_link)
    return first


def _link(link: str, theme: Theme, open_link: Callable[[str], None]) -> Any:
    label = link if len(link) <= LINK_SHOWN else link[:LINK_SHOWN - 1] + "…"
    b = dpg.add_button(label=label, callback=lambda s, a, u: open_link(u), user_data=link)
    dpg.bind_item_theme(b, theme.link_button())
    with dpg.tooltip(b):
        dpg.add_text(f"open {link}")
    return b
