"""Light formatting of message text in the window: `*bold*`, `_italic_`, `` `code` ``,
fenced code blocks and clickable URLs (opened with the desktop's opener). The terminal shows
the text as typed.

Invariants:
- `parse` is pure (tests use it without a window); the markers are taken only where they
  enclose a word (`2*3*4` or `snake_case_name` stay as typed).
- A text with no markup is one wrapped text item, as before; only formatted lines are
  drawn span by span (Dear PyGui cannot wrap across items).
"""

from __future__ import annotations

import re
import subprocess
import sys
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import dearpygui.dearpygui as dpg

from .theme import Theme, has_emoji

__all__ = ["Span", "parse", "add_text", "open_url", "has_markup"]

Kind = Literal["plain", "bold", "italic", "code", "link", "block"]

_INLINE = re.compile(
    r"(?P<link>https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'])"
    r"|(?<![\w*])\*(?P<bold>[^\s*](?:[^*\n]*[^\s*])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^\s_](?:[^_\n]*[^\s_])?)_(?![\w_])"
    r"|`(?P<code>[^`\n]+)`"
)
_FENCE = re.compile(r"^```[^\n]*\n(?P<body>.*?)\n?```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Span:
    kind: Kind
    text: str


def has_markup(text: str) -> bool:
    return bool(_FENCE.search(text) or _INLINE.search(text))


def parse(text: str) -> list[list[Span]]:
    """The text as lines of spans; a fenced block is one line holding one "block" span."""
    lines: list[list[Span]] = []
    at = 0
    for fence in _FENCE.finditer(text):
        lines += _lines(text[at:fence.start()].rstrip("\n"))
        lines.append([Span("block", fence.group("body"))])
        at = fence.end()
    lines += _lines(text[at:].lstrip("\n") if at else text)
    return [line for line in lines if line]


def _lines(text: str) -> list[list[Span]]:
    if not text:
        return []
    out: list[list[Span]] = []
    for line in text.split("\n"):
        spans: list[Span] = []
        at = 0
        for m in _INLINE.finditer(line):
            if m.start() > at:
                spans.append(Span("plain", line[at:m.start()]))
            kind = m.lastgroup or "plain"
            spans.append(Span(kind, m.group(kind)))  # type: ignore[arg-type]
            at = m.end()
        if at < len(line) or not spans:
            spans.append(Span("plain", line[at:]))
        out.append(spans)
    return out


def open_url(url: str) -> None:
    """The desktop's opener (xdg-open on Linux), never blocking the frame."""
    try:
        if sys.platform.startswith("linux"):
            subprocess.Popen(["xdg-open", url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        else:
            webbrowser.open(url)
    except OSError:
        webbrowser.open(url)


def add_text(text: str, theme: Theme, *, color: Any = None,
             opener: Callable[[str], None] = open_url) -> list[Any]:
    """The message text in the current container; returns the items made."""
    if has_emoji(text) or not has_markup(text):
        t = dpg.add_text(text, wrap=0)  # 0: at the window's edge, also after a resize
        if has_emoji(text):
            dpg.bind_item_font(t, theme.fonts.emoji)
        if color is not None:
            dpg.configure_item(t, color=color)
        return [t]
    pal, fonts = theme.palette, theme.fonts
    made: list[Any] = []
    for line in parse(text):
        if line[0].kind == "block":
            with dpg.child_window(height=0, auto_resize_y=True, border=True, width=-1) as box:
                t = dpg.add_text(line[0].text, color=pal.own)
                dpg.bind_item_font(t, fonts.mono)
            made += [box, t]
            continue
        with dpg.group(horizontal=True, horizontal_spacing=0) as group:
            for span in line:
                t = dpg.add_text(span.text, color=color)
                made.append(t)
                if span.kind == "bold":
                    dpg.bind_item_font(t, fonts.bold)
                elif span.kind == "italic":
                    dpg.bind_item_font(t, fonts.italic)
                elif span.kind == "code":
                    dpg.bind_item_font(t, fonts.mono)
                    dpg.configure_item(t, color=pal.own)
                elif span.kind == "link":
                    dpg.configure_item(t, color=pal.read)
                    with dpg.item_handler_registry() as reg:
                        dpg.add_item_clicked_handler(callback=lambda s, a, u: opener(u), user_data=span.text)
                    dpg.bind_item_handler_registry(t, reg)
        made.append(group)
    return made
