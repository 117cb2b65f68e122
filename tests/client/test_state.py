"""ChatState is pure: driven here by events alone, no sockets."""

from __future__ import annotations

import pyrtc.protocol as p
from pyrtc.client import ChatState
from pyrtc.client.state import Disconnected, PendingText


def posted(seq: int, sender: str = "bob", text: str = "", cid: str = "") -> p.Posted:
    return p.Posted(room="General", seq=seq, sender=sender, time=float(seq), text=text or f"m{seq}", cid=cid)


def joined(*history: p.Posted, members: tuple[str, ...] = ("ann", "bob")) -> p.Joined:
    return p.Joined(room="General", members=[p.MemberInfo(name=n, online=True) for n in members],
                    history=list(history), last_seq=max((h.seq for h in history), default=0))


def state() -> ChatState:
    s = ChatState()
    s.apply(p.Welcome(version=1, server="srv", name="ann"))
    return s


def test_each_seq_is_held_once_in_order() -> None:
    s = state()
    s.apply(joined(posted(1), posted(2)))
    for seq in (4, 2, 3, 4, 1):
        s.apply(posted(seq))
    assert [m.seq for m in s.rooms["General"].messages] == [1, 2, 3, 4]
    assert s.rooms["General"].synced == 4


def test_synced_stops_at_a_gap() -> None:
    s = state()
    s.apply(joined(posted(1)))
    s.apply(posted(3))
    assert s.rooms["General"].synced == 1
    s.apply(posted(2))
    assert s.rooms["General"].synced == 3


def test_pending_message_becomes_the_acked_one() -> None:
    s = state()
    s.apply(joined())
    s.apply(PendingText("General", "c1", "ann", "hi", 1.0))
    room = s.rooms["General"]
    assert s.status(room.messages[0]) == "pending"
    s.apply(p.Acked(room="General", cid="c1", seq=1, time=2.0))
    s.apply(posted(1, sender="ann", text="hi", cid="c1"))  # the broadcast copy: no duplicate
    assert [(m.seq, m.text) for m in room.messages] == [(1, "hi")]
    assert s.status(room.messages[0]) == "sent"


def test_status_needs_every_other_member() -> None:
    s = state()
    s.apply(joined(posted(1, sender="ann"), members=("ann", "bob", "cy")))
    msg = s.rooms["General"].by_seq[1]
    s.apply(p.Receipt(room="General", name="bob", delivered=1, read=1))
    assert s.status(msg) == "sent"
    s.apply(p.Receipt(room="General", name="cy", delivered=1, read=0))
    assert s.status(msg) == "delivered" and s.read_by(msg) == ["bob"]
    s.apply(p.Receipt(room="General", name="cy", delivered=1, read=1))
    assert s.status(msg) == "read"
    s.apply(p.Receipt(room="General", name="cy", delivered=0, read=0))  # never backwards
    assert s.status(msg) == "read"


def test_receipts_count_the_members_there_when_posted_and_there_still() -> None:
    s = state()
    s.apply(p.Joined(room="General", history=[posted(1), posted(2, sender="ann")], last_seq=2, members=[
        p.MemberInfo(name="ann"), p.MemberInfo(name="bob"), p.MemberInfo(name="cy", joined_seq=0),
        p.MemberInfo(name="dan", delivered=2, read=2), p.MemberInfo(name="eve", joined_seq=2)]))
    mine = s.rooms["General"].by_seq[2]
    # Its audience: bob, cy, dan (eve joined after it; ann sent it).
    assert s.receipt_line(mine) == "delivered to 1 of 3 · read by 1"
    s.apply(p.Receipt(room="General", name="bob", delivered=2, read=0))
    assert s.receipt_line(mine) == "delivered to 2 of 3 · read by 1" and s.status(mine) == "sent"
    s.apply(p.MemberLeft(room="General", name="cy"))  # gone: no longer waited for
    assert s.receipt_line(mine) == "delivered to 2 of 2 · read by 1" and s.status(mine) == "delivered"
    s.apply(p.MembersChanged(room="General", joined=[p.MemberInfo(name="cy", joined_seq=2)]))  # back: anew
    assert s.receipt_line(mine) == "delivered to 2 of 2 · read by 1"
    s.apply(p.Receipt(room="General", name="bob", delivered=2, read=2))
    assert s.status(mine) == "read" and s.receipt_line(mine, names=10) == "delivered to 2 of 2 · read by 2 (bob, dan)"
    assert s.receipt_line(mine, names=1) == "delivered to 2 of 2 · read by 2 (bob and 1 more)"
    # bob's message: ann and dan (cy came back after it, eve joined after it).
    theirs = s.rooms["General"].by_seq[1]
    assert s.receipts(theirs).audience == 2 and s.read_by(theirs) == ["dan"]
    s.apply(PendingText("General", "c9", "ann", "later", 3.0))
    assert s.receipt_line(s.rooms["General"].pending()[0]) == "not sent yet"
    s.apply(p.Joined(room="General", history=[posted(3, sender="ann")], last_seq=3,
                     members=[p.MemberInfo(name="ann"), p.MemberInfo(name="eve", joined_seq=3)]))
    alone = s.rooms["General"].by_seq[3]
    assert s.status(alone) == "sent" and s.receipt_line(alone).startswith("sent · nobody else")


def test_unread_counts_only_others_after_my_read() -> None:
    s = state()
    s.apply(joined(posted(1), posted(2, sender="ann"), posted(3), posted(4)))
    assert s.unread("General") == 3
    s.apply(p.Receipt(room="General", name="ann", delivered=4, read=3))
    assert s.unread("General") == 1


def test_typing_line_and_reset_on_disconnect() -> None:
    s = state()
    s.apply(joined(members=("ann", "bob", "cy", "dee")))
    assert s.typing_line("General") == ""
    s.apply(p.Typing(room="General", name="ann", typing=True))
    assert s.typing_line("General") == ""  # never "you are typing"
    s.apply(p.Typing(room="General", name="bob", typing=True))
    assert s.typing_line("General") == "bob is typing…"
    s.apply(p.Typing(room="General", name="dee", typing=True))
    assert s.typing_line("General") == "bob and dee are typing…"
    s.apply(p.Typing(room="General", name="cy", typing=True))
    assert s.typing_line("General") == "Several people are typing…"
    s.apply(Disconnected("lost", retrying=True))
    assert s.typing_line("General") == "" and s.connection == "reconnecting"


def test_reactions_toggle() -> None:
    s = state()
    s.apply(joined(posted(1)))
    s.apply(p.Reacted(room="General", seq=1, emoji="👍", name="bob", on=True))
    s.apply(p.Reacted(room="General", seq=1, emoji="👍", name="ann", on=True))
    s.apply(p.Reacted(room="General", seq=1, emoji="👍", name="bob", on=False))
    assert s.rooms["General"].by_seq[1].reactions == {"👍": {"ann"}}
    s.apply(p.Reacted(room="General", seq=1, emoji="👍", name="ann", on=False))
    assert s.rooms["General"].by_seq[1].reactions == {}


def test_refused_text_is_no_longer_pending() -> None:
    s = state()
    s.apply(joined())
    s.apply(PendingText("General", "c9", "ann", "too fast", 1.0))
    s.apply(p.Error(code="slow_down", message="slow down", cid="c9"))
    assert s.rooms["General"].messages == [] and s.notice == "slow down"


def test_versions_move_on_change() -> None:
    s = state()
    s.apply(joined())
    v = s.rooms["General"].version
    s.apply(posted(1))
    assert s.rooms["General"].version > v


def test_rooms_arrive_in_pages_and_deltas_in_any_order() -> None:
    state = ChatState()
    state.apply(p.Welcome(version=p.PROTOCOL_VERSION, server="s", name="ann", server_id="x",
                          rooms=[p.RoomInfo(name="b"), p.RoomInfo(name="C")], rooms_total=4))
    assert state.rooms_total == 4 and [r.name for r in state.available] == ["b", "C"]
    state.apply(p.RoomAdded(room=p.RoomInfo(name="e")))
    state.apply(p.RoomList(rooms=[p.RoomInfo(name="d"), p.RoomInfo(name="e", members=3)], rid=1, total=5))
    state.apply(p.RoomAdded(room=p.RoomInfo(name="A")))
    assert [r.name for r in state.available] == ["A", "b", "C", "d", "e"] and state.rooms_total == 6
    assert next(r for r in state.available if r.name == "e").members == 3  # the newer news wins


def test_reaction_counts_beyond_the_names_listed() -> None:
    state = ChatState(me="ann")
    names = [f"n{i:02d}" for i in range(20)]
    post = p.Posted(room="General", seq=1, sender="bob", time=1.0, text="hi",
                    reactions=[p.Reaction(emoji="👍", members=names, count=30)])
    state.apply(p.Joined(room="General", members=[], history=[post], last_seq=1))
    msg = state.rooms["General"].by_seq[1]
    assert msg.reaction_count("👍") == 30
    state.apply(p.Reacted(room="General", seq=1, emoji="👍", name="zed", on=False, count=29))  # not listed
    assert msg.reaction_count("👍") == 29 and len(msg.reactions["👍"]) == 20
    state.apply(p.Reacted(room="General", seq=1, emoji="🎉", name="ann", on=True))  # no count: one more
    assert msg.reaction_count("🎉") == 1 and msg.reactions["🎉"] == {"ann"}
    state.apply(p.Reacted(room="General", seq=1, emoji="🎉", name="ann", on=False, count=0))
    assert "🎉" not in msg.reactions and msg.reaction_count("🎉") == 0
