"""What the history store hands out: messages, their files, members; and how a message row
is read back."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import StoreError

__all__ = ["StoredFile", "StoredMessage", "Member", "Duplicate", "SELECT_MESSAGE", "message_from_row",
           "searchable"]


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
    " f.blob_id, f.name, f.size, f.mime, f.thumb_id, f.width, f.height"
    " FROM messages m LEFT JOIN files f ON f.id = m.file_id"
)


def message_from_row(row: tuple[object, ...]) -> StoredMessage:
    """A row of SELECT_MESSAGE as a message (without its reactions)."""
    room, seq, sender, t, text, cid, blob, name, size, mime, thumb, w, h = row
    file = None
    if blob is not None:
        file = StoredFile(str(blob), str(name), int(size), str(mime),  # type: ignore[call-overload]
                          None if thumb is None else str(thumb), int(w), int(h))  # type: ignore[call-overload]
    return StoredMessage(str(room), int(seq), str(sender), float(t), str(text), str(cid), file)  # type: ignore[call-overload,arg-type]


def searchable(text: str, file_name: str | None) -> str:
    """What the search index holds for a message: its text, and a file's name."""
    return text if file_name is None else f"{text} {file_name}".strip()
