"""Message text with colour emoji and any script: the one way the window draws a line of text.

A text is cut into runs: plain text (the text font, DejaVu), CJK (the fallback font, which
Dear PyGui cannot merge into the text font) and emoji (colour textures from EmojiImages,
drawn inline at the line's height). Dear PyGui wraps only a single text item, so a text
with emoji or CJK is wrapped here, word by word (CJK between any two characters), into
lines of runs; a text without any stays one wrapped text item (the fast, common case).

`segments` is pure (tested without a window); `add_line` draws one line; `add_text` draws a
paragraph wrapped to a width."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import dearpygui.dearpygui as dpg
import emoji as emoji_table

from .emoji_images import EmojiImages

__all__ = ["LineFonts", "Segment", "add_line", "add_text", "is_cjk", "needs_runs", "segments", "wrap"]

Kind = Literal["text", "cjk", "emoji"]
Segment = tuple[Kind, str]
CJK_RANGES = ((0x2E80, 0x303F), (0x3040, 0x30FF), (0x3100, 0x31FF), (0x3200, 0x9FFF), (0xA960, 0xA97F),
              (0xAC00, 0xD7FF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF), (0x20000, 0x3FFFF))
WORDS = re.compile(r"\s*\S+\s*|\s+")


@dataclass(frozen=True)
class LineFonts:
    """Dear PyGui font ids for one size of text, and that size in pixels."""
    text: Any
    cjk: Any
    symbol: Any  # monochrome emoji, where no colour emoji font is installed
    px: int


def is_cjk(ch: str) -> bool:
    c = ord(ch)
    return any(a <= c <= b for a, b in CJK_RANGES)


def _might_need_runs(text: str) -> bool:
    return any(ord(c) >= 0x2000 for c in text)  # cheap: plain Latin/Cyrillic/Greek skip the table


def needs_runs(text: str) -> bool:
    """Whether `text` holds emoji or CJK (else it is drawn as one text item)."""
    return _might_need_runs(text) and any(k != "text" for k, _ in segments(text))


def segments(text: str) -> list[Segment]:
    """`text` as runs of one kind each; every emoji (a ZWJ sequence, a flag) is a run of its own."""
    out: list[Segment] = []
    if not _might_need_runs(text):
        return [("text", text)] if text else []
    for token in emoji_table.analyze(text, non_emoji=True, join_emoji=True):
        if not isinstance(token.value, str):
            out.append(("emoji", token.chars))
            continue
        kind: Kind = "cjk" if is_cjk(token.chars) else "text"
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + token.chars)
        else:
            out.append((kind, token.chars))
    return out


def _pieces(segs: list[Segment]) -> Iterator[Segment]:
    """The unbreakable pieces of a line: words (with their spaces), CJK characters, emoji."""
    for kind, text in segs:
        if kind == "text":
            for m in WORDS.finditer(text):
                yield kind, m.group()
        elif kind == "cjk":
            yield from ((kind, ch) for ch in text)
        else:
            yield kind, text


def wrap(segs: list[Segment], width: float, measure: Any) -> list[list[Segment]]:
    """Lines no wider than `width` (a piece wider than a line gets one of its own);
    `measure(kind, text)` is a piece's width in pixels. Runs of one kind are joined again."""
    lines: list[list[Segment]] = [[]]
    used = 0.0
    for kind, text in _pieces(segs):
        w = measure(kind, text)
        if used + w > width and lines[-1]:
            lines.append([])
            used = 0.0
            if kind == "text":  # a line does not start with the space that ended the last
                text = text.lstrip()
                if not text:
                    continue
                w = measure(kind, text)
        line = lines[-1]
        if line and line[-1][0] == kind and kind != "emoji":
            line[-1] = (kind, line[-1][1] + text)
        else:
            line.append((kind, text))
        used += w
    return lines


def _measure(fonts: LineFonts, images: EmojiImages) -> Any:
    def measure(kind: Kind, text: str) -> float:
        if kind == "emoji" and images.available:
            return fonts.px + 1
        font = fonts.cjk if kind == "cjk" else fonts.symbol if kind == "emoji" else fonts.text
        size = dpg.get_text_size(text, font=font)
        # Before the first frame Dear PyGui cannot measure: a wide guess wraps early, never late.
        return float(size[0]) if size else len(text) * fonts.px * (1.0 if kind == "cjk" else 0.62)

    return measure


def add_line(line: list[Segment], *, parent: Any, fonts: LineFonts, images: EmojiImages,
             color: tuple[int, ...] | None = None) -> Any:
    """One line of runs, side by side, in the container `parent`; the group's id."""
    kw: dict[str, Any] = {"color": color} if color is not None else {}
    if not line:  # an empty line of a paragraph keeps its height
        return dpg.add_text("", parent=parent)
    with dpg.group(horizontal=True, horizontal_spacing=0, parent=parent) as group:
        for kind, text in line:
            if kind == "emoji":
                tag = images.texture(text, fonts.px)
                if tag is not None:
                    dpg.add_image(tag, width=fonts.px, height=fonts.px)
                    dpg.add_spacer(width=1)
                    continue
            item = dpg.add_text(text, **kw)
            if kind != "text":
                dpg.bind_item_font(item, fonts.cjk if kind == "cjk" else fonts.symbol)
    return group


def add_text(text: str, *, parent: Any, fonts: LineFonts, images: EmojiImages, width: float,
             color: tuple[int, ...] | None = None) -> Any:
    """A paragraph (it may hold newlines) wrapped to `width`: one text item when it holds
    neither emoji nor CJK (Dear PyGui wraps it at the window's edge), else lines of runs.
    The id of the item or group made."""
    if not needs_runs(text):
        kw: dict[str, Any] = {"color": color} if color is not None else {}
        return dpg.add_text(text, wrap=0, parent=parent, **kw)
    measure = _measure(fonts, images)
    with dpg.group(parent=parent) as group:
        for paragraph in text.split("\n"):
            for line in wrap(segments(paragraph), max(40.0, width), measure):
                add_line(line, parent=group, fonts=fonts, images=images, color=color)
    return group
