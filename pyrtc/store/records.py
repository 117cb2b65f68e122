"""What the history store hands out: messages, their files, members; and how a message row
is read back."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, replace

from .errors import StoreError

__all__ = ["StoredFile", "StoredMessage", "Member", "Duplicate", "SELECT_MESSAGE", "message_from_row",
           "searchable", "quote_of", "with_quotes", "QUOTE_CHARS"]


@dataclass(frozen=True, slots=True)
class StoredFile:
    blob_id: str
    name: str
    size: int
    mime: str
    thumb_id: str | None = None
    width: int = 0
    height: int = 0


@dataclass(frozen=True, slots=True)
class StoredMessage:
    room: str
    seq: int
    sender: str
    time: float
    text: str
    cid: str = ""
    file: StoredFile | None = None
    #: emoji -> some of the names (MAX_REACTION_NAMES), for the most used MAX_REACTION_KINDS
    reactions: dict[str, list[str]] = field(default_factory=dict)
    reaction_counts: dict[str, int] = field(default_factory=dict)  # emoji -> all the names
    uid: str = ""  # the sender's identity ('' in rows from before protocol 4)
    reply_to: int = 0  # the seq it answers (0: none) ...
    quote: str = ""  # ... that message's first line, cut ("" when it is deleted)
    quote_sender: str = ""
    edited: float = 0.0  # when it was last edited (0: never)
    deleted: bool = False
    change: int = 0  # the room's change number of its last edit or delete (0: none)


class Duplicate(StoreError):
    """(sender, cid) is stored already: a resend. `message` is the stored one."""

    def __init__(self, message: StoredMessage) -> None:
        super().__init__(f"message {message.cid!r} is stored already as seq {message.seq}")
        self.message = message


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    delivered: int
    read: int
    joined_seq: int = 0  # the room's last seq when it joined: it counts for later messages


#: The columns `message_from_row` reads; callers add WHERE and ORDER BY (messages are `m`).
SELECT_MESSAGE = (
    "SELECT m.room, m.seq, m.sender, m.time, m.text, m.cid,"
    " f.blob_id, f.name, f.size, f.mime, f.thumb_id, f.width, f.height,"
    " m.uid, m.reply_to, m.edited, m.deleted, m.change"
    " FROM messages m LEFT JOIN files f ON f.id = m.file_id"
)
#: Characters of a replied-to message's first line carried with the reply (protocol MAX_QUOTE).
QUOTE_CHARS = 120


def message_from_row(row: tuple[object, ...]) -> StoredMessage:
    """A row of SELECT_MESSAGE as a message (without its reactions)."""
    (room, seq, sender, t, text, cid, blob, name, size, mime, thumb, w, h,
     uid, reply_to, edited, deleted, change) = row
    file = None
    if blob is not None:
        file = StoredFile(str(blob), str(name), int(size), str(mime),  # type: ignore[call-overload]
                          None if thumb is None else str(thumb), int(w), int(h))  # type: ignore[call-overload]
    return StoredMessage(str(room), int(seq), str(sender), float(t), str(text), str(cid), file,  # type: ignore[call-overload,arg-type]
                         uid=str(uid), reply_to=int(reply_to),  # type: ignore[call-overload]
                         edited=float(edited), deleted=bool(deleted), change=int(change))  # type: ignore[arg-type,call-overload]


def with_quotes(db: sqlite3.Connection, room: str, msgs: list[StoredMessage]) -> list[StoredMessage]:
    """The replies among `msgs` with the line they quote, as the quoted message is now: one
    query for those that are replies (a join on every row cost history pages twice the time)."""
    wanted = sorted({m.reply_to for m in msgs if m.reply_to})
    if not wanted:
        return msgs
    marks = ",".join("?" * len(wanted))
    quoted = {int(seq): (str(sender), "" if deleted else quote_of(str(text), None if fname is None else str(fname)))
              for seq, sender, text, deleted, fname in db.execute(
                  "SELECT m.seq, m.sender, m.text, m.deleted, f.name FROM messages m"
                  f" LEFT JOIN files f ON f.id = m.file_id WHERE m.room = ? AND m.seq IN ({marks})",
                  (room, *wanted))}
    return [replace(m, quote_sender=quoted[m.reply_to][0], quote=quoted[m.reply_to][1])
            if m.reply_to in quoted else m for m in msgs]


def quote_of(text: str, file_name: str | None) -> str:
    """The one line a reply shows of the message it answers."""
    line = (text.strip().splitlines() or [""])[0] if text.strip() else (file_name or "")
    return line if len(line) <= QUOTE_CHARS else line[: QUOTE_CHARS - 1] + "…"


def searchable(text: str, file_name: str | None) -> str:
    """What the search index holds for a message: its text, and a file's name."""
    return text if file_name is None else f"{text} {file_name}".strip()
