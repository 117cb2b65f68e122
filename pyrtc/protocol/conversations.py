"""Protocol 4's messages: direct conversations, edits and deletes, status.

A direct conversation is a room named `@` + hex that the server makes for two identities
(`OpenDirect`); everything a room has (history, receipts, typing, reactions, files) works
in it, and only its two members may join it. Replies travel on `SendText.reply_to` and
`Posted.reply_to`; an edit or delete is `Edited`, numbered per room by `change` so that a
client coming back asks for the changes it missed (`JoinRoom.changes_after`).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from . import limits as L
from .fields import Msg, Rid, RoomName, Seq, UserName

__all__ = ["DirectInfo", "OpenDirect", "DirectOpened", "EditText", "DeleteMessage", "Edited",
           "SetStatus", "StatusChanged", "STATUSES"]

#: What a status may be; the custom text goes beside it.
STATUSES = ("available", "away", "busy")
StatusName = Literal["available", "away", "busy"]


class DirectInfo(msgspec.Struct, frozen=True, kw_only=True):
    room: str  # `@` + hex: what every room message of it names
    peer: str  # the other person's name (as bound to their identity)
    peer_uid: str = ""
    last_seq: int = 0


# ---------------------------------------------------------------- client -> server


class OpenDirect(Msg, frozen=True, tag="open_direct"):
    """Open (or find) the direct conversation with the identity that holds `name`; the
    reply is `DirectOpened`. Join its room to read and write."""

    name: UserName
    rid: Rid = 0


class EditText(Msg, frozen=True, tag="edit_text"):
    """Change the text of one's own message (the server checks whose it is)."""

    room: RoomName
    seq: Seq
    text: Annotated[str, Meta(min_length=1, max_length=L.MAX_TEXT)]
    rid: Rid = 0


class DeleteMessage(Msg, frozen=True, tag="delete_message"):
    """Delete one's own message: "message deleted" stays in its place."""

    room: RoomName
    seq: Seq
    rid: Rid = 0


class SetStatus(Msg, frozen=True, tag="set_status"):
    status: StatusName = "available"
    text: Annotated[str, Meta(max_length=L.MAX_STATUS_TEXT)] = ""


# ---------------------------------------------------------------- server -> client


class DirectOpened(Msg, frozen=True, tag="direct_opened"):
    """A direct conversation exists: the reply to OpenDirect, and unasked to its other member
    when they are online."""

    direct: DirectInfo
    rid: int = 0


class Edited(Msg, frozen=True, tag="edited"):
    """Message `seq` was edited (`text`) or deleted (`deleted`, text empty). `change` grows
    per room with every edit or delete."""

    room: str
    seq: int
    text: str = ""
    edited: float = 0.0  # unix seconds of the edit
    deleted: bool = False
    change: int = 0
    rid: int = 0


class StatusChanged(Msg, frozen=True, tag="status_changed"):
    name: str
    status: str = "available"
    text: str = ""
