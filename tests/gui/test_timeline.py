"""Placement of messages (grouping, day separators, the unread divider) and links in text:
plain unit tests, no window."""

from __future__ import annotations

import time

from pyrtc.client import MessageView
from pyrtc.gui.links import link_target, split_links
from pyrtc.gui.timeline import GROUP_SECONDS, day_label, placement


def noon(days_ago: int) -> float:
    """Local noon, `days_ago` days before today (DST-safe: built from the calendar)."""
    lt = time.localtime()
    return time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday - days_ago, 12, 0, 0, 0, 0, -1))


def msg(seq: int, sender: str, t: float) -> MessageView:
    return MessageView("General", seq, sender, t, f"text {seq}")


def test_one_sender_within_five_minutes_shares_a_header() -> None:
    now = noon(0)
    a1, a2 = msg(1, "Alice", now), msg(2, "Alice", now + GROUP_SECONDS)
    b3, a4 = msg(3, "Bob", now + GROUP_SECONDS + 1), msg(4, "Alice", now + GROUP_SECONDS + 2)
    a5 = msg(5, "Alice", a4.time + GROUP_SECONDS + 1)
    assert placement(None, a1, now=now, unread_after=None).header
    assert not placement(a1, a2, now=now, unread_after=None).header
    assert placement(a2, b3, now=now, unread_after=None).header  # another sender
    assert placement(b3, a4, now=now, unread_after=None).header
    assert placement(a4, a5, now=now, unread_after=None).header  # more than five minutes later


def test_a_day_separator_starts_each_day_and_a_header_with_it() -> None:
    now = noon(0)
    old, yesterday, today = msg(1, "Alice", noon(9)), msg(2, "Alice", noon(1)), msg(3, "Alice", noon(0))
    first = placement(None, old, now=now, unread_after=None)
    assert first.day is not None and first.day.endswith(time.strftime("%B", time.localtime(old.time))
                                                        + ("" if time.localtime(old.time).tm_year
                                                           == time.localtime(now).tm_year
                                                           else f" {time.localtime(old.time).tm_year}"))
    p = placement(old, yesterday, now=now, unread_after=None)
    assert p.day == "Yesterday" and p.header
    q = placement(yesterday, today, now=now, unread_after=None)
    assert q.day == "Today" and q.header
    assert placement(today, msg(4, "Alice", today.time + 1), now=now, unread_after=None).day is None
    assert day_label(noon(3), now) == time.strftime("%A", time.localtime(noon(3)))


def test_the_unread_divider_sits_above_the_first_unread_only() -> None:
    now = noon(0)
    a1, a2, a3 = msg(1, "Alice", now), msg(2, "Alice", now + 1), msg(3, "Alice", now + 2)
    assert not placement(a1, a2, now=now, unread_after=None).unread
    divided = placement(a1, a2, now=now, unread_after=1)
    assert divided.unread and divided.header  # the divider starts a new header
    assert not placement(a2, a3, now=now, unread_after=1).unread
    assert not placement(None, a1, now=now, unread_after=1).unread  # read


def test_links_are_found_without_their_trailing_punctuation() -> None:
    assert split_links("see https://example.com/a?b=1, then") == [
        ("see ", False), ("https://example.com/a?b=1", True), (", then", False)]
    assert split_links("(www.example.org/x).") == [("(", False), ("www.example.org/x", True), (").", False)]
    assert split_links("https://en.wikipedia.org/wiki/Tea_(meal)") == [
        ("https://en.wikipedia.org/wiki/Tea_(meal)", True)]
    assert split_links("no link here, file://etc/passwd nor javascript:alert(1)") == [
        ("no link here, file://etc/passwd nor javascript:alert(1)", False)]
    assert link_target("www.example.org") == "http://www.example.org"
    assert link_target("https://x.org") == "https://x.org"
