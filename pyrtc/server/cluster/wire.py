"""What the servers of one chat write to its JetStream stream, and the stream's subjects.

Every entry is a msgpack struct tagged by kind. Subjects name the chat and, per room, a
token that folds ASCII case as SQLite's NOCASE does (two servers creating "Foo" and "foo"
at once meet on one subject):

- `pyrtc.<chat>.post.<room>`: the room's posts (their seqs: see ordering).
- `pyrtc.<chat>.room.<room>`: the room's creation (expected last subject sequence 0: the first
  creator wins) and later changes.
- `pyrtc.<chat>.ev.<room>`: memberships, reactions, receipts, edits, deletes and direct
  conversations opened (the stream's order is enough).
- `pyrtc.<chat>.name.<key>`: a name key's binding to an identity (expected last subject
  sequence 0: the first claim wins).
- `pyrtcx.<chat>.typing` and `.presence`: typing and who is online, plain NATS outside the
  stream (hints, never stored).
"""

from __future__ import annotations

import re

import msgspec

from ... import protocol as p

__all__ = ["Change", "DirectMade", "Entry", "Member", "NameBound", "Post", "Reaction", "Receipt", "RoomMade", "decode", "encode", "CHAT_ID", "Subjects",
           "TypingNote"]

#: A chat id is one subject token.
CHAT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Post(msgspec.Struct, frozen=True, tag="post"):
    """A post; its room seq is not in it: every server gives it the same one when applying
    the stream (see ordering)."""

    room: str
    sender: str
    time: float
    text: str
    cid: str
    token: str  # the posting server's handle on it (its sender waits for the ack)
    file: p.FileInfo | None = None
    uid: str = ""  # the sender's identity: only it may edit or delete the post (any server)
    reply_to: int = 0  # the room seq it answers (each server quotes it from its cache)


class Change(msgspec.Struct, frozen=True, tag="change"):
    """An edit (`text`) or delete (`text` None) of a post; applied where the post is still
    its sender's (`uid`) and not deleted, so every server decides alike. Published after the
    post was applied here, so it comes after the post in the stream."""

    room: str
    seq: int
    text: str | None
    uid: str
    name: str
    token: str  # the changing server's handle on it (its requester waits for the answer)
    time: float = 0.0  # when (the changing server's clock): the same "edited" time on every server


class NameBound(msgspec.Struct, frozen=True, tag="name"):
    """One comparison key of a name (`names.name_keys`) bound to an identity for the whole
    chat: published with expected last subject sequence 0 on the key's subject, so of two
    identities claiming it at once through two servers the first wins."""

    key: str
    name: str
    uid: str


class DirectMade(msgspec.Struct, frozen=True, tag="direct"):
    """A direct conversation opened (by `uid_a`), on every server: both are members."""

    room: str
    uid_a: str
    name_a: str
    uid_b: str
    name_b: str
    token: str  # the opening server's handle on it (its requester waits for the answer)


class RoomMade(msgspec.Struct, frozen=True, tag="room"):
    room: str
    password: str  # scrypt hash, '' when open
    creator: str


class Reaction(msgspec.Struct, frozen=True, tag="reaction"):
    room: str
    seq: int
    emoji: str
    name: str
    on: bool


class Receipt(msgspec.Struct, frozen=True, tag="receipt"):
    room: str
    name: str
    delivered: int
    read: int


class Member(msgspec.Struct, frozen=True, tag="member"):
    room: str
    name: str
    uid: str
    on: bool  # joined (True) or left


class TypingNote(msgspec.Struct, frozen=True, tag="typing"):
    room: str
    name: str
    typing: bool
    origin: str  # the server it came from (which has shown it to its own clients)


Entry = Post | RoomMade | Reaction | Receipt | Member | Change | NameBound | DirectMade
_entries = msgspec.msgpack.Decoder(Entry)
_typing = msgspec.msgpack.Decoder(TypingNote)
encode = msgspec.msgpack.Encoder().encode


def decode(data: bytes) -> Entry:
    entry: Entry = _entries.decode(data)
    return entry


def decode_typing(data: bytes) -> TypingNote:
    note: TypingNote = _typing.decode(data)
    return note


def room_token(room: str) -> str:
    return room.encode().lower().hex()


class Subjects:
    def __init__(self, chat: str) -> None:
        self.chat = chat
        self.stream = f"PYRTC_{chat}"
        self.all = f"pyrtc.{chat}.>"
        self.typing = f"pyrtcx.{chat}.typing"
        self.presence = f"pyrtcx.{chat}.presence"  # who listens through which server (see presence)
        self.files = f"PYRTC_{chat}_files"  # the object store of file bodies (and thumbnails)

    def post(self, room: str) -> str:
        return f"pyrtc.{self.chat}.post.{room_token(room)}"

    def room(self, room: str) -> str:
        return f"pyrtc.{self.chat}.room.{room_token(room)}"

    def event(self, room: str) -> str:
        return f"pyrtc.{self.chat}.ev.{room_token(room)}"

    def name(self, key: str) -> str:
        return f"pyrtc.{self.chat}.name.{key.encode().hex()}"
