"""ChatState: everything a client shows, changed only by `apply(event)`.

Invariants:
- `apply` is pure state transition: no I/O, no clock reads (local events carry the time),
  so the GUI and headless clients share it and tests drive it directly.
- A room holds each seq at most once; `messages` is sorted by seq with the sender's own
  not-yet-acknowledged messages (seq 0) last, in send order.
- `version` (state and per room) grows on every change: views redraw only when it moved.
- Rooms come in pages (Welcome, RoomList) and one at a time (RoomAdded): `available` is
  their union by name, so pages and additions can arrive in any order.
- A message's reactions may list only some names (MAX_REACTION_NAMES); the counts are kept
  apart (`reaction_count`).
- Receipts of a message count its audience only: the members other than its sender who
  joined before it was posted (`MemberView.joined_seq`) and are members still (as far as
  the member list goes: a big room lists some). ✓✓ and blue ✓✓ mean all of them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Literal, Union, assert_never

from .. import protocol as p

__all__ = [
    "ChatState", "RoomView", "MessageView", "MemberView", "Receipts", "Transfer", "Status",
    "Connecting", "Connected", "Disconnected", "PendingText", "TransferUpdate", "LocalEvent",
    "Event",
]

Status = Literal["pending", "sent", "delivered", "read"]


# ---------------------------------------------------------------- local events


@dataclass(frozen=True, slots=True)
class Connecting:
    address: str
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class Connected:
    address: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    reason: str
    retrying: bool


@dataclass(frozen=True, slots=True)
class PendingText:
    room: str
    cid: str
    sender: str
    text: str
    time: float


@dataclass(frozen=True, slots=True)
class TransferUpdate:
    id: str
    name: str
    direction: Literal["up", "down"]
    size: int
    done: int
    state: Literal["running", "done", "failed"] = "running"
    error: str = ""
    path: str = ""


LocalEvent = Union[Connecting, Connected, Disconnected, PendingText, TransferUpdate]
Event = Union[p.ServerMsg, LocalEvent]


# ---------------------------------------------------------------- model


@dataclass(slots=True)
class MessageView:
    room: str
    seq: int  # 0 while pending
    sender: str
    time: float
    text: str = ""
    file: p.FileInfo | None = None
    cid: str = ""
    reactions: dict[str, set[str]] = field(default_factory=dict)  # emoji -> names (maybe not all)
    reaction_counts: dict[str, int] = field(default_factory=dict)  # emoji -> everyone who reacted

    def reaction_count(self, emoji: str) -> int:
        return self.reaction_counts.get(emoji, len(self.reactions.get(emoji, ())))


@dataclass(slots=True)
class MemberView:
    name: str
    online: bool = False
    delivered: int = 0
    read: int = 0
    joined_seq: int = 0  # the room's last seq when it joined: it counts for later messages


@dataclass(frozen=True, slots=True)
class Receipts:
    """How far one message got with its audience (see the module's invariants)."""

    audience: int
    delivered: tuple[str, ...] = ()  # by name; those who read it are here too
    read: tuple[str, ...] = ()

    def line(self, names: int = 0) -> str:
        """"delivered to 3 of 4 · read by 2" (the window's tooltip, the terminal's /info), and
        the first `names` of those who read it: "… read by 2 (bob, cy)"."""
        if not self.audience:
            return "sent · nobody else was a member when it was posted"
        line = f"delivered to {len(self.delivered)} of {self.audience} · read by {len(self.read)}"
        if names and self.read:
            more = len(self.read) - names
            line += f" ({', '.join(self.read[:names])}{f' and {more} more' if more > 0 else ''})"
        return line


@dataclass
class RoomView:
    name: str
    members: dict[str, MemberView] = field(default_factory=dict)
    messages: list[MessageView] = field(default_factory=list)
    by_seq: dict[int, MessageView] = field(default_factory=dict)
    typing: set[str] = field(default_factory=set)
    last_seq: int = 0  # the server's newest seq, as far as we know
    synced: int = 0  # every seq from the first loaded one up to here is held (resume point)
    more_before: bool = False  # older history exists on the server
    member_count: int = 0  # all members; `members` may list only some in a big room
    version: int = 0

    @property
    def first_seq(self) -> int:
        for m in self.messages:
            if m.seq:
                return m.seq
        return 0

    def pending(self) -> list[MessageView]:
        return [m for m in self.messages if m.seq == 0]

    def _insert(self, msg: MessageView) -> bool:
        if msg.seq in self.by_seq:
            return False
        self.by_seq[msg.seq] = msg
        n_pending = 0
        for m in reversed(self.messages):
            if m.seq:
                break
            n_pending += 1
        end = len(self.messages) - n_pending
        if end == 0 or self.messages[end - 1].seq < msg.seq:
            self.messages.insert(end, msg)
        else:
            keys = [m.seq for m in self.messages[:end]]
            self.messages.insert(bisect.bisect_left(keys, msg.seq), msg)
        self.last_seq = max(self.last_seq, msg.seq)
        if self.synced == 0 or msg.seq <= self.synced + 1:
            self.synced = max(self.synced, msg.seq)
            while self.synced + 1 in self.by_seq:
                self.synced += 1
        return True


@dataclass
class Transfer:
    id: str
    name: str
    direction: Literal["up", "down"]
    size: int
    done: int
    state: Literal["running", "done", "failed"]
    error: str = ""
    path: str = ""

    @property
    def fraction(self) -> float:
        return 1.0 if self.size == 0 else min(1.0, self.done / self.size)


@dataclass
class ChatState:
    me: str = ""
    server: str = ""
    server_id: str = ""
    address: str = ""
    connection: Literal["disconnected", "connecting", "connected", "reconnecting"] = "disconnected"
    notice: str = ""  # the latest error or status line for the user
    rooms: dict[str, RoomView] = field(default_factory=dict)  # rooms we are in
    available: list[p.RoomInfo] = field(default_factory=list)  # rooms known so far, by name
    rooms_total: int = 0  # rooms on the server (more than `available` until every page came)
    transfers: dict[str, Transfer] = field(default_factory=dict)
    max_file: int = 0
    joined_rooms: list[str] = field(default_factory=list)  # member of, per the server's Welcome
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

    def unread(self, room: str) -> int:
        view = self.rooms.get(room)
        if view is None:
            return 0
        me = view.members.get(self.me)
        upto = me.read if me else 0
        count = 0
        for m in reversed(view.messages):
            if m.seq == 0:
                continue
            if m.seq <= upto:
                break
            if m.sender != self.me:
                count += 1
        return count

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
                    room.messages.append(MessageView(event.room, 0, event.sender, event.time,
                                                     event.text, cid=event.cid))
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
                room.last_seq = max(room.last_seq, event.last_seq)
                room.version += 1
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
                self.notice = ""
            case Disconnected():
                self.connection = "reconnecting" if event.retrying else "disconnected"
                self.notice = event.reason
                for room in self.rooms.values():
                    room.typing.clear()
                    for member in room.members.values():
                        member.online = False
                    room.version += 1
            case TransferUpdate():
                self.transfers[event.id] = Transfer(event.id, event.name, event.direction,
                                                    event.size, event.done, event.state,
                                                    event.error, event.path)
            case (p.SearchHits() | p.UploadReady() | p.FileData() | p.FileEnd() | p.Ping() | p.Pong()
                  | p.Greeting()):
                pass  # answers to requests: the session hands them to whoever asked
            case _:
                assert_never(event)

    def _merge_rooms(self, infos: list[p.RoomInfo], total: int) -> None:
        known = {r.name: r for r in self.available}
        known.update((r.name, r) for r in infos)
        self.available = sorted(known.values(), key=lambda r: r.name.casefold())
        self.rooms_total = max(total, len(self.available))

    def _add_posted(self, room: RoomView, posted: p.Posted) -> None:
        if posted.seq in room.by_seq:
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
                          {r.emoji: max(r.count, len(r.members)) for r in reactions})
        if room._insert(msg):
            room.version += 1
