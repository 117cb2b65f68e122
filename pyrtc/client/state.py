"""ChatState: everything a client shows, changed only by `apply(event)`.

Invariants:
- `apply` is pure state transition: no I/O, no clock reads (local events carry the time),
  so the GUI and headless clients share it and tests drive it directly.
- `version` (state and per room) grows on every change: views redraw only when it moved.
- Rooms come in pages (Welcome, RoomList) and one at a time (RoomAdded): `available` is
  their union by name, so pages and additions can arrive in any order.
- What the views hold (one message per seq, sorted; receipts counted over a message's
  audience) is stated in `views`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, assert_never

from .. import protocol as p

# The events and views are named here too: `pyrtc.client.state` is where callers found them.
from .events import Connected as Connected
from .events import Connecting as Connecting
from .events import Disconnected as Disconnected
from .events import Event as Event
from .events import LocalEvent as LocalEvent
from .events import Notice as Notice
from .events import PendingText as PendingText
from .events import Rebased as Rebased
from .events import TransferUpdate as TransferUpdate
from .views import MemberView as MemberView
from .views import MessageView as MessageView
from .views import Receipts as Receipts
from .views import RoomView as RoomView
from .views import Status as Status
from .views import Transfer as Transfer
from .views import mentions_me as mentions_me

__all__ = [
    "ChatState", "RoomView", "MessageView", "MemberView", "Receipts", "Transfer", "Status",
    "Connecting", "Connected", "Disconnected", "PendingText", "TransferUpdate", "LocalEvent",
    "Event",
]


@dataclass
class ChatState:
    me: str = ""
    server: str = ""
    server_id: str = ""
    address: str = ""
    connection: Literal["disconnected", "connecting", "connected", "reconnecting"] = "disconnected"
    notice: str = ""  # the latest error or status line for the user
    #: The notice is the session's own line (a host change), said as the new connection was
    #: made: the Connected that follows keeps it (it clears only what the cut said).
    notice_kept: bool = False
    rooms: dict[str, RoomView] = field(default_factory=dict)  # rooms we are in
    available: list[p.RoomInfo] = field(default_factory=list)  # rooms known so far, by name
    rooms_total: int = 0  # rooms on the server (more than `available` until every page came)
    transfers: dict[str, Transfer] = field(default_factory=dict)
    max_file: int = 0
    joined_rooms: list[str] = field(default_factory=list)  # member of, per the server's Welcome
    directs: dict[str, p.DirectInfo] = field(default_factory=dict)  # room -> our conversation there
    statuses: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (status, text) set
    epoch: int = 0  # which host of the chat serves us (Greeting)
    host: str = ""  # the serving peer's node id (Greeting)
    roster: p.Roster | None = None  # the host-capable peers, as the host last said
    version: int = 0

    # ------------------------------------------------------------ queries

    def receipts(self, msg: MessageView) -> Receipts:
        """Who of the message's audience has it, and who has shown it (nobody while pending)."""
        room = self.rooms.get(msg.room)
        if room is None or msg.seq == 0:
            return Receipts(0)
        audience = [m for m in room.members.values() if m.name != msg.sender and m.joined_seq < msg.seq]
        return Receipts(len(audience),
                        tuple(sorted(m.name for m in audience if max(m.delivered, m.read) >= msg.seq)),
                        tuple(sorted(m.name for m in audience if m.read >= msg.seq)))

    def status(self, msg: MessageView) -> Status:
        """✓ sent, ✓✓ delivered (every client of its audience has it), read (all have shown it)."""
        if msg.seq == 0:
            return "pending"
        got = self.receipts(msg)
        if not got.audience:
            return "sent"
        if len(got.read) == got.audience:
            return "read"
        if len(got.delivered) == got.audience:
            return "delivered"
        return "sent"

    def receipt_line(self, msg: MessageView, names: int = 0) -> str:
        """"delivered to 3 of 4 · read by 2", from the state as it is now (`Receipts.line`)."""
        return "not sent yet" if msg.seq == 0 else self.receipts(msg).line(names)

    def read_by(self, msg: MessageView) -> list[str]:
        return list(self.receipts(msg).read)

    def delivered_to(self, msg: MessageView) -> list[str]:
        return list(self.receipts(msg).delivered)

    def _news(self, room: str) -> Iterator[MessageView]:
        """Others' messages of `room` after what you have read, newest first."""
        view = self.rooms.get(room)
        if view is None:
            return
        upto = self.read_upto(room)
        for m in reversed(view.messages):
            if m.seq == 0:
                continue
            if m.seq <= upto:
                return
            if m.sender != self.me:
                yield m

    def unread(self, room: str) -> int:
        return sum(1 for _ in self._news(room))

    def title(self, room: str) -> str:
        """What a room is called on screen: a direct conversation by the other person's name."""
        direct = self.directs.get(room)
        return f"@{direct.peer}" if direct else room

    def direct_with(self, name: str) -> str | None:
        """The room of our direct conversation with `name`, if there is one."""
        return next((r for r, d in self.directs.items() if d.peer == name), None)

    def status_of(self, name: str) -> str:
        """"away", "busy · at lunch", "" (available)."""
        status, text = self.statuses.get(name, ("available", ""))
        shown = "" if status == "available" else status
        return " · ".join(x for x in (shown, text) if x)

    def read_upto(self, room: str) -> int:
        """The newest seq of `room` that is not news to you: read, or posted before you joined."""
        view = self.rooms.get(room)
        me = view.members.get(self.me) if view else None
        return max(me.read, me.joined_seq) if me else 0

    def mentions(self, room: str) -> int:
        """Unread messages of `room` that mention you (its badge)."""
        return sum(1 for m in self._news(room) if mentions_me(m.text, self.me))

    def typing_line(self, room: str) -> str:
        view = self.rooms.get(room)
        names = sorted(view.typing - {self.me}) if view else []
        if not names:
            return ""
        if len(names) == 1:
            return f"{names[0]} is typing…"
        if len(names) == 2:
            return f"{names[0]} and {names[1]} are typing…"
        return "Several people are typing…"

    # ------------------------------------------------------------ the one mutator

    def apply(self, event: Event) -> None:  # noqa: C901 - one flat dispatch is the clearest here
        self.version += 1
        match event:
            case p.Posted():
                room = self.rooms.get(event.room)
                if room is None:
                    return
                self._add_posted(room, event)
            case p.Acked():
                room = self.rooms.get(event.room)
                if room is None:
                    return
                for m in room.pending():
                    if m.cid == event.cid:
                        room.messages.remove(m)
                        if event.seq not in room.by_seq:
                            m.seq, m.time = event.seq, event.time
                            room._insert(m)
                        break
                me = room.members.get(self.me)
                if me is not None:
                    me.delivered = max(me.delivered, event.seq)
                    me.read = max(me.read, event.seq)
                room.version += 1
            case PendingText():
                room = self.rooms.get(event.room)
                if room is not None:
                    quoted = room.by_seq.get(event.reply_to) if event.reply_to else None
                    room.messages.append(MessageView(event.room, 0, event.sender, event.time,
                                                     event.text, cid=event.cid, reply_to=event.reply_to,
                                                     quote=quoted.text.splitlines()[0] if quoted and quoted.text else "",
                                                     quote_sender=quoted.sender if quoted else ""))
                    room.version += 1
            case p.Typing():
                room = self.rooms.get(event.room)
                if room is not None:
                    (room.typing.add if event.typing else room.typing.discard)(event.name)
                    room.version += 1
            case p.Receipt():
                room = self.rooms.get(event.room)
                if room is not None:
                    member = room.members.setdefault(event.name, MemberView(event.name))
                    member.delivered = max(member.delivered, event.delivered)
                    member.read = max(member.read, event.read)
                    room.version += 1
            case p.Reacted():
                room = self.rooms.get(event.room)
                msg = room.by_seq.get(event.seq) if room else None
                if room is not None and msg is not None:
                    count = msg.reaction_count(event.emoji)
                    names = msg.reactions.setdefault(event.emoji, set())
                    (names.add if event.on else names.discard)(event.name)
                    count = event.count if event.count >= 0 else max(0, count + (1 if event.on else -1))
                    if count <= 0:
                        del msg.reactions[event.emoji]
                        msg.reaction_counts.pop(event.emoji, None)
                    else:
                        msg.reaction_counts[event.emoji] = max(count, len(names))
                    room.version += 1
            case p.Joined():
                room = self.rooms.get(event.room)
                if room is None:
                    room = self.rooms[event.room] = RoomView(event.room, more_before=event.more)
                elif not room.by_seq:
                    room.more_before = event.more
                room.members = {m.name: MemberView(m.name, m.online, m.delivered, m.read, m.joined_seq)
                                for m in event.members}
                room.member_count = max(event.member_count, len(room.members))
                for posted in event.history:
                    self._add_posted(room, posted)
                for posted in event.changes:
                    self._change(room, posted.seq, posted.text, posted.edited, posted.deleted, 0)
                room.last_change = max(room.last_change, event.last_change)
                room.last_seq = max(room.last_seq, event.last_seq)
                room.version += 1
                direct = self.directs.get(event.room)
                if direct is not None and self.unread(event.room):
                    self.notice = f"{direct.peer} wrote to you ({self.unread(event.room)} new)"
            case p.HistoryPage():
                room = self.rooms.get(event.room)
                if room is None:
                    return
                first = room.first_seq
                for posted in event.messages:
                    self._add_posted(room, posted)
                if event.messages and (first == 0 or event.messages[0].seq < first):
                    room.more_before = event.more
                room.version += 1
            case p.Left():
                self.rooms.pop(event.room, None)
            case p.MembersChanged():
                room = self.rooms.get(event.room)
                if room is not None:
                    for info in event.joined:
                        room.members[info.name] = MemberView(info.name, info.online, info.delivered,
                                                             info.read, info.joined_seq)
                    for name in event.online:
                        room.members.setdefault(name, MemberView(name)).online = True
                    for name in event.offline:
                        room.members.setdefault(name, MemberView(name)).online = False
                        room.typing.discard(name)
                    room.member_count = max(room.member_count, len(room.members))
                    room.version += 1
            case p.MemberLeft():
                room = self.rooms.get(event.room)
                if room is not None:
                    if room.members.pop(event.name, None) is not None:
                        room.member_count = max(len(room.members), room.member_count - 1)
                    room.typing.discard(event.name)
                    room.version += 1
            case p.Welcome():
                if event.server_id != self.server_id or not event.server_id:
                    self.available = []  # another server's rooms (the same one's only grow)
                self.me, self.server, self.max_file = event.name, event.server, event.max_file
                self.server_id = event.server_id
                self._merge_rooms(event.rooms, event.rooms_total)
                self.joined_rooms = list(event.joined)
                self.directs.update((d.room, d) for d in event.directs)
            case p.DirectOpened():
                self.directs[event.direct.room] = event.direct
            case p.Edited():
                room = self.rooms.get(event.room)
                if room is not None:
                    self._change(room, event.seq, event.text, event.edited, event.deleted, event.change)
            case p.StatusChanged():
                if event.status == "available" and not event.text:
                    self.statuses.pop(event.name, None)
                else:
                    self.statuses[event.name] = (event.status, event.text)
                for room in self.rooms.values():
                    if event.name in room.members:
                        room.version += 1
            case p.RoomList():
                self._merge_rooms(event.rooms, event.total)
            case p.RoomAdded():
                new = all(r.name != event.room.name for r in self.available)
                self._merge_rooms([event.room], self.rooms_total + new)
            case p.Error():
                self.notice = event.message
                if event.cid:  # a refused text is not pending any more
                    for room in self.rooms.values():
                        for m in room.pending():
                            if m.cid == event.cid:
                                room.messages.remove(m)
                                room.version += 1
            case Connecting():
                self.address = event.address
                self.connection = "reconnecting" if event.attempt else "connecting"
            case Connected():
                self.address = event.address
                self.connection = "connected"
                if not self.notice_kept:
                    self.notice = ""
                self.notice_kept = False
            case Disconnected():
                self.connection = "reconnecting" if event.retrying else "disconnected"
                self.notice = event.reason
                self.statuses.clear()  # told again by the rooms joined on the next connection
                for room in self.rooms.values():
                    room.typing.clear()
                    for member in room.members.values():
                        member.online = False
                    room.version += 1
            case Notice():
                self.notice = event.text
                self.notice_kept = self.connection != "connected"  # the handshake's: Connected comes next
            case Rebased():
                room = self.rooms.get(event.room)
                if room is not None:
                    room.rebase(event.after)
            case TransferUpdate():
                self.transfers[event.id] = Transfer(event.id, event.name, event.direction,
                                                    event.size, event.done, event.state,
                                                    event.error, event.path)
            case p.Greeting():
                self.epoch, self.host = event.epoch, event.host
            case p.Roster():
                self.roster = event
            case p.HandOver():
                self.notice = f"{event.host_name or 'the host'} is leaving; moving to the next host"
            case p.Replicated() | p.WantBody():
                pass  # the session answers a host that wants a body (Peering.give_body)
            case (p.SearchHits() | p.UploadReady() | p.FileData() | p.FileEnd() | p.Ping() | p.Pong()):
                pass  # answers to requests: the session hands them to whoever asked
            case _:
                assert_never(event)

    @staticmethod
    def _change(room: RoomView, seq: int, text: str, edited: float, deleted: bool, change: int) -> None:
        """An edit or delete of a message we may hold (one we do not hold comes edited)."""
        room.last_change = max(room.last_change, change)
        msg = room.by_seq.get(seq)
        if msg is None:
            return
        msg.text, msg.edited, msg.deleted = text, edited, deleted
        if deleted:
            msg.file = None
            msg.reactions.clear()
            msg.reaction_counts.clear()
        for other in room.messages:  # replies show the quoted line as it is now
            if other.reply_to == seq:
                other.quote = "" if deleted else (text.strip().splitlines() or [""])[0]
        room.version += 1

    def _merge_rooms(self, infos: list[p.RoomInfo], total: int) -> None:
        known = {r.name: r for r in self.available}
        known.update((r.name, r) for r in infos)
        self.available = sorted(known.values(), key=lambda r: r.name.casefold())
        self.rooms_total = max(total, len(self.available))

    def _add_posted(self, room: RoomView, posted: p.Posted) -> None:
        held = room.by_seq.get(posted.seq)
        if held is not None:
            if posted.edited > held.edited or posted.deleted > held.deleted:  # a page newer than ours
                self._change(room, posted.seq, posted.text, posted.edited, posted.deleted, 0)
            return
        if posted.sender == self.me and posted.cid:
            for m in room.pending():
                if m.cid == posted.cid:
                    room.messages.remove(m)
                    break
        reactions = [r for r in posted.reactions if r.members or r.count > 0]
        msg = MessageView(posted.room, posted.seq, posted.sender, posted.time, posted.text,
                          posted.file, posted.cid,
                          {r.emoji: set(r.members) for r in reactions},
                          {r.emoji: max(r.count, len(r.members)) for r in reactions},
                          posted.reply_to, posted.quote, posted.quote_sender, posted.edited, posted.deleted)
        if room._insert(msg):
            room.version += 1
