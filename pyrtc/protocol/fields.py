"""The field types every message shares, their base class, and the name checks.

Limits live in the types (`Annotated[..., Meta(...)]`), so a message that breaks one fails
to decode with the field's path in the error; `check_name`/`check_room` say the same in
words before a client sends.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
from msgspec import Meta

from . import limits as L
from .errors import BadMessage

__all__ = ["Msg", "RoomName", "NewRoomName", "UserName", "BlobId", "Seq", "Offset", "Rid", "ClientId", "Emoji",
           "check_name", "check_room", "is_direct"]

RoomName = Annotated[str, Meta(min_length=1, max_length=L.MAX_ROOM, pattern=L.ROOM_PATTERN)]
#: What CreateRoom accepts: a room name that is not a direct conversation's.
NewRoomName = Annotated[str, Meta(min_length=1, max_length=L.MAX_ROOM, pattern=L.NEW_ROOM_PATTERN)]
UserName = Annotated[str, Meta(min_length=1, max_length=L.MAX_NAME, pattern=L.NAME_PATTERN)]
BlobId = Annotated[str, Meta(pattern=L.BLOB_ID_PATTERN)]
Seq = Annotated[int, Meta(ge=0, le=L.MAX_SEQ)]
Offset = Annotated[int, Meta(ge=0, le=L.MAX_SEQ)]  # file sizes and positions
Rid = Annotated[int, Meta(ge=0)]
ClientId = Annotated[str, Meta(min_length=1, max_length=64)]
Emoji = Annotated[str, Meta(min_length=1, max_length=L.MAX_EMOJI)]


class Msg(msgspec.Struct, frozen=True, kw_only=True, tag_field="t"):
    """Every frame body. Tags are wire names: set by hand, never renamed."""


def check_name(name: str) -> str:
    """A user name as the server will accept it, or BadMessage saying what is wrong."""
    if not 1 <= len(name) <= L.MAX_NAME:
        raise BadMessage(f"a name must have 1 to {L.MAX_NAME} characters, not {len(name)}")
    if not re.fullmatch(L.NAME_PATTERN, name):
        raise BadMessage(f"the name {name!r} has control characters or leading/trailing spaces")
    return name


def check_room(room: str) -> str:
    """A room name as the server will accept it, or BadMessage saying what is wrong."""
    if not 1 <= len(room) <= L.MAX_ROOM:
        raise BadMessage(f"a room name must have 1 to {L.MAX_ROOM} characters, not {len(room)}")
    if not re.fullmatch(L.NEW_ROOM_PATTERN, room) and not is_direct(room):
        raise BadMessage(f"the room name {room!r} may hold only letters, digits, spaces and _ . -,"
                         " and must start with a letter or digit")
    return room


def is_direct(room: str) -> bool:
    """Whether `room` names a direct conversation (two people only)."""
    return re.fullmatch(L.DIRECT_PATTERN, room) is not None
