"""Light formatting of message text: `*bold*`, `_italic_`, `` `code` ``, fenced code blocks and
links, as lines of spans. Pure (no Dear PyGui): message_text.py draws what this returns, and
the terminal shows the text as typed.

Invariants:
- The markers are taken only where they enclose a word (`2*3*4` or `snake_case_name` stay as
  typed); nothing inside a link is taken for a marker (`https://x.org/a_b_c`).
- Links are found by links.split_links, the one pattern for links in the window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .links import split_links

__all__ = ["Span", "Kind", "parse", "has_markup", "plain"]

Kind = Literal["plain", "bold", "italic", "code", "link", "block"]

_INLINE = re.compile(
    r"(?<![\w*])\*(?P<bold>[^\s*](?:[^*\n]*[^\s*])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^\s_](?:[^_\n]*[^\s_])?)_(?![\w_])"
    r"|`(?P<code>[^`\n]+)`"
)
_FENCE = re.compile(r"^```[^\n]*\n(?P<body>.*?)\n?```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Span:
    kind: Kind
    text: str


def has_markup(text: str) -> bool:
    """Whether `text` is drawn span by span (else it is one plain text item)."""
    return bool(_FENCE.search(text) or _INLINE.search(text) or any(is_link for _, is_link in split_links(text)))


def parse(text: str) -> list[list[Span]]:
    """The text as lines of spans; a fenced block is one line holding one "block" span."""
    lines: list[list[Span]] = []
    at = 0
    for fence in _FENCE.finditer(text):
        lines += _lines(text[at:fence.start()].rstrip("\n"))
        lines.append([Span("block", fence.group("body"))])
        at = fence.end()
    lines += _lines(text[at:].lstrip("\n") if at else text)
    return lines


def plain(text: str) -> str:
    """The text as it reads, without its markers, on one line (a reply's quote)."""
    return " ".join("".join(s.text for s in line).replace("\n", " ") for line in parse(text) if line)


def _lines(text: str) -> list[list[Span]]:
    if not text:
        return []
    out: list[list[Span]] = []
    for line in text.split("\n"):
        spans: list[Span] = []
        for run, is_link in split_links(line):
            if is_link:
                spans.append(Span("link", run))
            else:
                spans += _marked(run)
        out.append(spans)  # an empty line stays: it keeps its height
    return out


def _marked(text: str) -> list[Span]:
    spans: list[Span] = []
    at = 0
    for m in _INLINE.finditer(text):
        if m.start() > at:
            spans.append(Span("plain", text[at:m.start()]))
        kind: Kind = "bold" if m.group("bold") else "italic" if m.group("italic") else "code"
        spans.append(Span(kind, m.group(kind)))
        at = m.end()
    if at < len(text):
        spans.append(Span("plain", text[at:]))
    return spans
