"""What the composer completes: `:shortcode:` to an emoji (the `emoji` package's table, with
its aliases) and `@` to a member's name. Pure: the composer asks, the window draws.

A completion applies to the word the text ends with (the cursor of Dear PyGui's input is
not readable, and a message is typed from left to right)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import emoji as emoji_table

__all__ = ["Suggestion", "emoji_shortcodes", "emojize", "suggest"]

LIMIT = 6  # suggestions shown at once
SHORTCODE_AT_END = re.compile(r"(?:^|(?<=\s)):([a-z0-9_+\-]{2,})$")
MENTION_AT_END = re.compile(r"(?:^|(?<=\s))@([^\s@]*)$")
FULLY_QUALIFIED = 2  # emoji.STATUS["fully_qualified"]


@dataclass(frozen=True)
class Suggestion:
    label: str  # what the list shows
    insert: str  # what replaces the word being typed
    emoji: str = ""  # shown in colour before the label


@cache
def emoji_shortcodes() -> dict[str, str]:
    """Every shortcode (without colons, its English name and aliases) -> its emoji."""
    table: dict[str, str] = {}
    for char, data in emoji_table.EMOJI_DATA.items():
        if data.get("status", FULLY_QUALIFIED) > FULLY_QUALIFIED:
            continue
        for code in [data["en"], *data.get("alias", [])]:
            table.setdefault(code.strip(":").casefold(), char)
    return table


def _emoji_suggestions(typed: str) -> list[Suggestion]:
    typed = typed.casefold()
    table = emoji_shortcodes()
    codes = [c for c in table if typed in c and ("_tone" not in c or "tone" in typed)]  # skin tones when asked
    starts = sorted((c for c in codes if c.startswith(typed)), key=lambda c: (len(c), c))
    inside = sorted((c for c in codes if not c.startswith(typed)), key=lambda c: (len(c), c))
    seen: set[str] = set()
    out: list[Suggestion] = []
    for code in starts + inside:
        char = table[code]
        if char in seen:  # an alias of one already listed
            continue
        seen.add(char)
        out.append(Suggestion(f":{code}:", char + " ", char))
        if len(out) == LIMIT:
            break
    return out


def suggest(text: str, members: list[str]) -> tuple[int, list[Suggestion]]:
    """(where the word being completed starts in `text`, the suggestions for it)."""
    if m := SHORTCODE_AT_END.search(text):
        return m.start(), _emoji_suggestions(m.group(1))
    if m := MENTION_AT_END.search(text):
        typed = m.group(1).casefold()
        names = sorted((n for n in members if n.casefold().startswith(typed)), key=str.casefold)
        return m.start(), [Suggestion(f"@{n}", f"@{n} ") for n in names[:LIMIT]]
    return len(text), []


def emojize(text: str) -> str:
    """`:shortcode:`s (names and aliases) as their emoji; anything else left as typed."""
    return str(emoji_table.emojize(text, language="alias"))
