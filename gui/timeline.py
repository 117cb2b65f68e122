"""Where a message sits in the conversation: under its own header or its sender's last one,
after a day separator, after the "New messages" divider. Pure (no Dear PyGui): the message
list asks it for each row and rebuilds a row whose placement changed.

Invariants:
- A message continues the group above it only if the same sender posted that one at most
  GROUP_SECONDS earlier on the same local day, and nothing (a separator, the divider) lies
  between them.
- Day labels are relative to `now` ("Today", "Yesterday", a weekday within the last week),
  else the date.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from pyrtc.client import MessageView

__all__ = ["GROUP_SECONDS", "Placement", "placement", "day_label", "full_time", "short_time", "local_day"]

GROUP_SECONDS = 300.0  # five minutes: Slack's and Element's grouping window


@dataclass(frozen=True, slots=True)
class Placement:
    day: str | None  # a day separator above the message, with this label
    unread: bool  # the "New messages" divider above it
    header: bool  # avatar, name and time drawn (else it continues the group above)


@lru_cache(maxsize=8192)
def local_day(t: float) -> int:
    """The local calendar day of a time, as a proleptic ordinal (consecutive days differ by 1)."""
    lt = time.localtime(t)
    return _ordinal(lt.tm_year, lt.tm_yday)


def _ordinal(year: int, yday: int) -> int:
    y = year - 1
    return y * 365 + y // 4 - y // 100 + y // 400 + yday


def day_label(t: float, now: float) -> str:
    days = local_day(now) - local_day(t)
    if days == 0:
        return "Today"
    if days == 1:
        return "Yesterday"
    if 1 < days < 7:
        return time.strftime("%A", time.localtime(t))
    lt = time.localtime(t)
    this_year = lt.tm_year == time.localtime(now).tm_year
    return f"{time.strftime('%A', lt)} {lt.tm_mday} {time.strftime('%B', lt)}" + ("" if this_year else f" {lt.tm_year}")


def full_time(t: float) -> str:
    """What hovering a time shows: "Tuesday 1 December 2026, 14:03:12"."""
    lt = time.localtime(t)
    return f"{time.strftime('%A', lt)} {lt.tm_mday} {time.strftime('%B %Y, %H:%M:%S', lt)}"


def short_time(t: float) -> str:
    return time.strftime("%H:%M", time.localtime(t))


def placement(prev: MessageView | None, m: MessageView, *, now: float, unread_after: int | None,
              group: bool = True) -> Placement:
    """How message `m` is drawn after `prev` (None: the first row drawn). `unread_after`: the
    newest seq read when the room was opened (None: no divider). `group` False: every message
    has its header (a kiosk, read from across the room, shows only the newest rows)."""
    day = None
    if prev is None or local_day(prev.time) != local_day(m.time):
        day = day_label(m.time, now)
    unread = (unread_after is not None and m.seq > unread_after
              and (prev is None or 0 < prev.seq <= unread_after))
    header = (not group or day is not None or unread or prev is None or prev.sender != m.sender
              or not 0 <= m.time - prev.time <= GROUP_SECONDS)
    return Placement(day, unread, header)
