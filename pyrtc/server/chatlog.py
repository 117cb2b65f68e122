"""chat.log: one line per chat activity (connect, join, message, file, reaction, leave).

This is on the path of every message, so lines skip the logging machinery once a sink is
attached (`pyrtc server` attaches its batched chat.log file): a LogRecord, three handlers
and their filters per line were a third of the server's time in fan-out. Without a sink
(a server embedded in a test or the window), lines go to the "pyrtc.chat" logger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["attach", "line"]

_log = logging.getLogger("pyrtc.chat")
_sink: Callable[[str], None] | None = None
_second = -1
_stamp = ""


def attach(sink: Callable[[str], None] | None) -> None:
    """Send chat lines (newline-terminated, timestamped) to `sink`; None: back to logging."""
    global _sink
    _sink = sink


def line(fmt: str, *args: object) -> None:
    global _second, _stamp
    if _sink is None:
        _log.info(fmt, *args)
        return
    now = time.time()
    second = int(now)
    if second != _second:  # strftime once a second, not once a line
        _second, _stamp = second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
    _sink(f"{_stamp},{int((now - second) * 1000):03d} {fmt % args}\n")
