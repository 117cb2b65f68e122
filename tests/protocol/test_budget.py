"""Every frame built from stored data fits MAX_FRAME by construction: the biggest single item
fits beside the biggest envelope, so a page cut by bytes always holds at least one."""

from __future__ import annotations

import pyrtc.protocol as p
from pyrtc.protocol import limits as L
from pyrtc.protocol.budget import chunks, encoded_size, fit_first, fit_newest, room_for

WIDE = "😀"  # four bytes in UTF-8: the most a character can cost
BIG_INT = 2**63 - 1


def biggest_posted() -> p.Posted:
    name = WIDE * L.MAX_NAME
    return p.Posted(
        room=WIDE * L.MAX_ROOM, seq=BIG_INT, sender=name, time=1e300, text=WIDE * L.MAX_TEXT, cid="c" * 64,
        file=p.FileInfo(blob_id="f" * 64, name=WIDE * L.MAX_FILE_NAME, size=BIG_INT, mime="m" * 127,
                        thumb_id="t" * 64, width=BIG_INT, height=BIG_INT),
        reactions=[p.Reaction(emoji=WIDE * L.MAX_EMOJI, members=[name] * L.MAX_REACTION_NAMES, count=BIG_INT)
                   for _ in range(L.MAX_REACTION_KINDS)])


def biggest_member() -> p.MemberInfo:
    return p.MemberInfo(name=WIDE * L.MAX_NAME, online=True, delivered=BIG_INT, read=BIG_INT, joined_seq=BIG_INT)


def biggest_room() -> p.RoomInfo:
    return p.RoomInfo(name=WIDE * L.MAX_ROOM, members=BIG_INT, online=BIG_INT, last_seq=BIG_INT, locked=True)


def test_the_biggest_message_fits_a_join_beside_the_biggest_member_page() -> None:
    joined = p.Joined(room=WIDE * L.MAX_ROOM, members=[biggest_member()] * L.MAX_JOIN_MEMBERS, history=[],
                      last_seq=BIG_INT, more=True, rid=BIG_INT, member_count=BIG_INT)
    post = biggest_posted()
    assert encoded_size(post) <= room_for(joined)
    assert encoded_size(post) < L.MAX_FRAME // 3  # and a good margin: pages hold several


def test_paged_frames_fit_at_their_biggest() -> None:
    room_names = [WIDE * L.MAX_ROOM] * L.MAX_ROOM_PAGE
    welcome = p.Welcome(version=p.PROTOCOL_VERSION, server=WIDE * 63, name=WIDE * L.MAX_NAME, uid="u" * 64,
                        rooms=[biggest_room()] * L.MAX_ROOM_PAGE, joined=room_names, max_file=BIG_INT,
                        server_id="s" * 32, max_rate=1e300, burst=BIG_INT, rooms_total=BIG_INT)
    changed = p.MembersChanged(room=WIDE * L.MAX_ROOM, joined=[biggest_member()] * L.MAX_MEMBERS_DELTA)
    page = p.RoomList(rooms=[biggest_room()] * L.MAX_ROOM_PAGE, rid=BIG_INT, more=True, total=BIG_INT)
    for frame in (welcome, changed, page):
        assert len(p.encode(frame)) < L.MAX_FRAME // 2


def test_fit_keeps_the_newest_that_fit_and_says_what_was_cut() -> None:
    items = [f"{i}" * 100 for i in range(10)]  # each 102 bytes encoded
    kept, cut = fit_newest(items, 350)
    assert kept == items[-3:] and cut
    assert fit_newest(items, 10_000) == (items, False)
    assert fit_newest(items, 1) == (items[-1:], True)  # one is kept whatever the budget
    assert fit_newest([], 10) == ([], False)
    kept, cut = fit_first(items, 350)
    assert kept == items[:3] and cut
    assert chunks(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]] and chunks([], 3) == []
