"""When two user names are "the same": nobody may pass for someone else.

Two names collide when they differ only by case, accents, invisible characters, or letters
that look alike (Unicode's confusables table, UTS #39: Cyrillic "а" for Latin "a", "𝐚",
fullwidth "ａ", "I" for "l" …). The key is for comparing only, never shown.

Names may not hold characters that show nothing (Unicode's Default_Ignorable_Code_Point,
format characters, blank letters such as the Hangul fillers and the blank Braille
pattern) nor line and paragraph separators, which break log lines and terminals.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import regex
from confusable_homoglyphs.confusables import confusables_data

__all__ = ["name_keys", "unfit_in"]

#: Invisible by Unicode's maintained property, plus what draws as a blank without being
#: listed there (U+2800 BRAILLE PATTERN BLANK), and the line/paragraph separators.
#: Variation selectors 15/16 stay allowed: they pick text or emoji style of the character
#: before them ("❤️"), and the comparison keys drop them anyway.
_UNFIT = regex.compile(r"(?![\uFE0E\uFE0F])[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Zl}\p{Zp}\u2800]")

_DIRECTION_MARKS = "\u200e\u200f"  # the table wraps right-to-left look-alikes in these


@lru_cache(maxsize=1)
def _lookalikes() -> dict[int, str]:
    """Each character -> the smallest ASCII character of its look-alike group (itself if the
    group has none). The table lists look-alikes per character, not always both ways ("I"
    lists "l", "l" lists "1"), so groups are joined until they are closed."""
    parent: dict[str, str] = {}

    def root(c: str) -> str:
        while parent.setdefault(c, c) != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for char, glyphs in confusables_data.items():
        for g in glyphs:
            other = g["c"].strip(_DIRECTION_MARKS)
            if len(char) == 1 and len(other) == 1:  # sequences ("rn" for "m") are left to the eye
                a, b = root(char), root(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[str, list[str]] = {}
    for c in parent:
        groups.setdefault(root(c), []).append(c)
    table: dict[int, str] = {}
    for members in groups.values():
        ascii_ = sorted(c for c in members if c.isascii() and c.isprintable())
        if ascii_:
            table.update({ord(c): ascii_[0] for c in members if c != ascii_[0]})
    return table


def _skeleton(text: str) -> str:
    table = _lookalikes()
    text = unicodedata.normalize("NFKD", text.translate(table))  # accents come apart
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Mn", "Me", "Zs") or c == " ")
    return text.translate(table)


def name_keys(name: str) -> tuple[str, ...]:
    """What two names must not share while both are online: they collide when any key of
    one is a key of the other. Two keys, because look-alikes depend on case: folded first,
    "Oscar" is "oscar"; mapped first, "biII" (capital i) is "bill"."""
    folded = _skeleton(name.casefold())
    strict = _skeleton(name).casefold()
    return (folded,) if strict == folded else (folded, strict)


def unfit_in(name: str) -> list[str]:
    """The characters a name may not hold (invisible, blank, separators), as U+XXXX."""
    return [f"U+{ord(c):04X}" for c in _UNFIT.findall(name)]
