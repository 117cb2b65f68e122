"""chat.log: one line per chat activity (connect, join, message, file, reaction, leave),
user text escaped (`escape_log`) so that none can forge a line.

Fields are `key=value`; a value that is not one plain word (spaces, `=`, quotes, backslashes,
control characters, or empty) is written in double quotes with `\\` and `\"` escaped, so no
name, room or text can fake a field or a line. `line` does that to every string argument;
`quote` forces the quotes (message text is always quoted).

This is on the path of every message, so lines skip the logging machinery once a sink is
attached (`pyrtc server` attaches its batched chat.log file): a LogRecord, three handlers
and their filters per line were a third of the server's time in fan-out. Without a sink
(a server embedded in a test or the window), lines go to the "pyrtc.chat" logger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import lru_cache

__all__ = ["attach", "escape_log", "line", "quote", "timestamp", "value"]

_log = logging.getLogger("pyrtc.chat")
_sink: Callable[[str], None] | None = None
_cache = (-1, "")  # (second, its text): one tuple, so a logging thread never sees half of it


def attach(sink: Callable[[str], None] | None) -> None:
    """Send chat lines (newline-terminated, timestamped) to `sink`; None: back to logging."""
    global _sink
    _sink = sink


class _Safe(str):
    """A value made log-safe already: `line` writes it as it is."""

    __slots__ = ()


def line(fmt: str, *args: object) -> None:
    """One chat.log line; string arguments become log-safe values (`value`)."""
    args = tuple(value(a) if type(a) is str else a for a in args)
    if _sink is None:
        _log.info(fmt, *args)
    else:
        _sink(f"{timestamp(time.time())} {fmt % args}\n")


def value(text: str) -> str:
    """`text` as a field value: bare when it is one plain word, else quoted."""
    return _short_value(text) if len(text) <= 64 else _value(text)


def _value(text: str) -> str:
    if text and text.isprintable() and not any(c in text for c in ' "\\='):
        return text
    return quote(text)


_short_value = lru_cache(maxsize=4096)(_value)  # names and rooms: the same on every line


def quote(text: str, limit: int = 2000) -> str:
    """`text` in double quotes, escaped: one field, whatever it holds."""
    return _Safe(f'"{escape_log(text, limit)}"')


def timestamp(when: float) -> str:
    """Local time as logging writes it ("2026-11-26 04:09:02,262"), strftime once a second."""
    global _cache
    second = int(when)
    if second != _cache[0]:
        _cache = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)))
    return f"{_cache[1]},{int((when - second) * 1000):03d}"


def escape_log(text: str, limit: int = 2000) -> str:
    """One log-safe line: control and other non-printable characters escaped, and the
    backslash and double quote too (so that a quoted value ends where it seems to)."""
    if len(text) > limit:
        text = text[:limit] + "…"
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
