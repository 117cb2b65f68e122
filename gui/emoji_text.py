"""Text with colour emoji and any script, cut into runs and wrapped: pure (no Dear PyGui);
message_text.py draws the lines this returns.

A text is cut into runs: plain text (the text font, DejaVu), CJK (the fallback font, which
Dear PyGui cannot merge into the text font) and emoji (colour textures from EmojiImages,
drawn inline at the line's height). Dear PyGui wraps only a single text item, so a text
with emoji, CJK or formatting is wrapped here, word by word (CJK between any two
characters), into lines of runs; each run may carry a style (bold, a link…) that
`wrap_styled` keeps and never joins across."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, TypeVar

import emoji as emoji_table

__all__ = ["LineFonts", "Segment", "Kind", "is_cjk", "needs_runs", "segments", "wrap", "wrap_styled"]

Kind = Literal["text", "cjk", "emoji"]
Segment = tuple[Kind, str]
CJK_RANGES = ((0x2E80, 0x303F), (0x3040, 0x30FF), (0x3100, 0x31FF), (0x3200, 0x9FFF), (0xA960, 0xA97F),
              (0xAC00, 0xD7FF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF), (0x20000, 0x3FFFF))
WORDS = re.compile(r"\s*\S+\s*|\s+")
S = TypeVar("S")


@dataclass(frozen=True)
class LineFonts:
    """Dear PyGui font ids for one size of text, and that size in pixels."""
    text: Any
    cjk: Any
    symbol: Any  # monochrome emoji, where no colour emoji font is installed
    px: int
    bold: Any = None  # *bold*, _italic_, `code` (None: the text font)
    italic: Any = None
    mono: Any = None


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
    if not _might_need_runs(text):
        return [("text", text)] if text else []
    return list(_analysed(text))


@lru_cache(maxsize=1024)
def _analysed(text: str) -> tuple[Segment, ...]:
    """Cached: a row asks several times while it is built (is it plain? its runs), and the
    emoji table's tokenizer is the slow part (~0.15 ms a message)."""
    out: list[Segment] = []
    for token in emoji_table.analyze(text, non_emoji=True, join_emoji=True):
        if not isinstance(token.value, str):
            out.append(("emoji", token.chars))
            continue
        kind: Kind = "cjk" if is_cjk(token.chars) else "text"
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + token.chars)
        else:
            out.append((kind, token.chars))
    return tuple(out)


def _pieces(runs: list[tuple[Segment, S]]) -> Iterator[tuple[Segment, S]]:
    """The unbreakable pieces of a line: words (with their spaces), CJK characters, emoji."""
    for (kind, text), style in runs:
        if kind == "text":
            for m in WORDS.finditer(text):
                yield (kind, m.group()), style
        elif kind == "cjk":
            yield from (((kind, ch), style) for ch in text)
        else:
            yield (kind, text), style


def wrap_styled(runs: list[tuple[Segment, S]], width: float,
                measure: Callable[[Kind, str, S], float]) -> list[list[tuple[Segment, S]]]:
    """Lines no wider than `width` (a piece wider than a line gets one of its own);
    `measure(kind, text, style)` is a piece's width in pixels. Neighbours of one kind and
    one style are joined again."""
    lines: list[list[tuple[Segment, S]]] = [[]]
    used = 0.0
    for (kind, text), style in _pieces(runs):
        w = measure(kind, text, style)
        if used + w > width and lines[-1]:
            lines.append([])
            used = 0.0
            if kind == "text":  # a line does not start with the space that ended the last
                text = text.lstrip()
                if not text:
                    continue
                w = measure(kind, text, style)
        line = lines[-1]
        if line and line[-1][0][0] == kind and line[-1][1] == style and kind != "emoji":
            line[-1] = ((kind, line[-1][0][1] + text), style)
        else:
            line.append(((kind, text), style))
        used += w
    return lines


def wrap(segs: list[Segment], width: float, measure: Callable[[Kind, str], float]) -> list[list[Segment]]:
    """`wrap_styled` of unstyled runs."""
    lines = wrap_styled([(seg, None) for seg in segs], width, lambda kind, text, _: measure(kind, text))
    return [[seg for seg, _ in line] for line in lines]
