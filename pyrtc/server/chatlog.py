"""chat.log: one line per chat activity (connect, join, message, file, reaction, leave),
user text escaped (`escape_log`) so that none can forge a line.

This is on the path of every message, so lines skip the logging machinery once a sink is
attached (`pyrtc server` attaches its batched chat.log file): a LogRecord, three handlers
and their filters per line were a third of the server's time in fan-out. Without a sink
(a server embedded in a test or the window), lines go to the "pyrtc.chat" logger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["attach", "escape_log", "line", "timestamp"]

_log = logging.getLogger("pyrtc.chat")
_sink: Callable[[str], None] | None = None
_cache = (-1, "")  # (second, its text): one tuple, so a logging thread never sees half of it


def attach(sink: Callable[[str], None] | None) -> None:
    """Send chat lines (newline-terminated, timestamped) to `sink`; None: back to logging."""
    global _sink
    _sink = sink


def line(fmt: str, *args: object) -> None:
    if _sink is None:
        _log.info(fmt, *args)
    else:
        _sink(f"{timestamp(time.time())} {fmt % args}\n")


def timestamp(when: float) -> str:
    """Local time as logging writes it ("2026-11-26 04:09:02,262"), strftime once a second."""
    global _cache
    second = int(when)
    if second != _cache[0]:
        _cache = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)))
    return f"{_cache[1]},{int((when - second) * 1000):03d}"


def escape_log(text: str, limit: int = 2000) -> str:
    """One log-safe line: control and other non-printable characters escaped."""
    if len(text) > limit:
        text = text[:limit] + "…"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
