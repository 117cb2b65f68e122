"""The views a client shows: rooms, their messages and members, receipts, transfers.

Invariants:
- A room holds each seq at most once; `messages` is sorted by seq with the sender's own
  not-yet-acknowledged messages (seq 0) last, in send order (`RoomView._insert`).
- `version` (per room) grows on every change: views redraw only when it moved.
- A message's reactions may list only some names (MAX_REACTION_NAMES); the counts are kept
  apart (`reaction_count`).
- Receipts of a message count its audience only: the members other than its sender who
  joined before it was posted (`MemberView.joined_seq`) and are members still (as far as
  the member list goes: a big room lists some). ✓✓ and blue ✓✓ mean all of them.

Only `ChatState.apply` changes them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Literal

from .. import protocol as p

__all__ = ["RoomView", "MessageView", "MemberView", "Receipts", "Transfer", "Status", "mentions_me"]

Status = Literal["pending", "sent", "delivered", "read"]


def mentions_me(text: str, me: str) -> bool:
    """The text names `me` as "@me" (any case): the window highlights it and may notify."""
    return bool(me) and f"@{me}".casefold() in text.casefold()


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
    reply_to: int = 0  # the seq it answers (0: none), with one line of that message:
    quote: str = ""
    quote_sender: str = ""
    edited: float = 0.0  # when it was last edited (0: never): "(edited)"
    deleted: bool = False  # "message deleted"

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
    last_change: int = 0  # the newest edit or delete applied (asked from there on a resume)
    version: int = 0

    @property
    def first_seq(self) -> int:
        for m in self.messages:
            if m.seq:
                return m.seq
        return 0

    def pending(self) -> list[MessageView]:
        return [m for m in self.messages if m.seq == 0]

    def rebase(self, after: int) -> None:
        """Forget the messages after seq `after` (pending ones stay)."""
        self.messages = [m for m in self.messages if not m.seq or m.seq <= after]
        self.by_seq = {s: m for s, m in self.by_seq.items() if s <= after}
        self.synced = min(self.synced, after)
        self.version += 1

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
