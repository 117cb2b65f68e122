"""Every message PyRTC puts on the wire.

Invariants:
- Wire tags (`tag=`) are written by hand and never renamed; classes may be.
- New fields get defaults and field types never change (msgspec schema evolution), so a
  peer of the same PROTOCOL_VERSION can always decode what we send.
- Client -> server messages are imperative (`SendText`); server -> client ones say what
  happened (`Posted`). Each direction is one closed union.
- Requests that expect a reply carry `rid`; the reply (or the `Error`) echoes it.
"""

from __future__ import annotations

from typing import Annotated, Union

import msgspec
from msgspec import Meta

from . import limits as L
from .continuity import BodyOffer as BodyOffer
from .continuity import HandOver as HandOver
from .continuity import PeerInfo as PeerInfo
from .continuity import ReactionCopy as ReactionCopy
from .continuity import ReceiptCopy as ReceiptCopy
from .continuity import Replicate as Replicate
from .continuity import Replicated as Replicated
from .continuity import Roster as Roster
from .continuity import WantBody as WantBody
from .conversations import STATUSES as STATUSES
from .conversations import DeleteMessage as DeleteMessage
from .conversations import DirectInfo as DirectInfo
from .conversations import DirectOpened as DirectOpened
from .conversations import Edited as Edited
from .conversations import EditText as EditText
from .conversations import OpenDirect as OpenDirect
from .conversations import SetStatus as SetStatus
from .conversations import StatusChanged as StatusChanged
from .fields import BlobId as BlobId
from .fields import ClientId, Emoji, NewRoomName, Rid, Seq
from .fields import Msg as Msg
from .fields import RoomName as RoomName
from .fields import UserName as UserName
from .fields import check_name as check_name
from .fields import check_room as check_room
from .fields import is_direct as is_direct
from .files import FetchFile as FetchFile
from .files import FileChunk as FileChunk
from .files import FileData as FileData
from .files import FileEnd as FileEnd
from .files import FileInfo as FileInfo
from .files import OfferFile as OfferFile
from .files import UploadReady as UploadReady
from .posted import Posted as Posted
from .posted import Reaction as Reaction

__all__ = [
    "check_name", "check_room", "is_direct", "Msg", "RoomName", "UserName", "BlobId",
    "hello_proof", "Hello", "ListRooms", "CreateRoom", "JoinRoom", "LeaveRoom", "SendText", "SetTyping",
    "MarkDelivered", "MarkRead", "React", "OfferFile", "FileChunk", "FetchFile", "GetHistory",
    "Search", "Ping", "Pong",
    "RoomInfo", "MemberInfo", "FileInfo", "Reaction", "Posted",
    "Greeting", "Welcome", "RoomList", "RoomAdded", "Joined", "Left", "MembersChanged", "MemberLeft", "Acked",
    "Typing", "Receipt", "Reacted", "UploadReady", "FileData", "FileEnd", "HistoryPage",
    "SearchHits", "Error",
    "STATUSES", "DirectInfo", "OpenDirect", "DirectOpened", "EditText", "DeleteMessage", "Edited",
    "SetStatus", "StatusChanged", "PeerInfo", "Roster", "Replicate", "Replicated", "HandOver",
    "WantBody", "BodyOffer", "ReactionCopy", "ReceiptCopy",
    "ClientMsg", "ServerMsg",
]

# ---------------------------------------------------------------- client -> server


def hello_proof(nonce: bytes, fingerprint: str, name: str) -> bytes:
    """What a client signs with its key to say hello: the server's fresh nonce (no replay),
    the server certificate's fingerprint as the client saw it ('' without TLS: a relay that
    shows another certificate cannot pass the proof on) and the name claimed."""
    return b"pyrtc-hello-3\0" + nonce + bytes.fromhex(fingerprint) + name.encode()


class Hello(Msg, frozen=True, tag="hello"):
    """Sent after the server's Greeting. `key` and `proof` default to empty only so that an
    older client's hello still decodes and is told to update."""

    version: int
    name: UserName
    client: Annotated[str, Meta(max_length=64)] = ""
    password: Annotated[str, Meta(max_length=256)] = ""  # the server's, if it has one
    key: Annotated[bytes, Meta(max_length=L.MAX_KEY)] = b""  # public key, DER SubjectPublicKeyInfo
    proof: Annotated[bytes, Meta(max_length=L.MAX_PROOF)] = b""  # signature of hello_proof(...)
    #: Set by a peer that could host this chat (not --no-host, never a one-shot command).
    peer: PeerInfo | None = None


class ListRooms(Msg, frozen=True, tag="list_rooms"):
    """One page of rooms by name: those after `after` (case-insensitive order), `limit` of them."""

    rid: Rid = 0
    after: Annotated[str, Meta(max_length=L.MAX_ROOM)] = ""
    limit: Annotated[int, Meta(ge=1, le=L.MAX_ROOM_PAGE)] = L.MAX_ROOM_PAGE


class CreateRoom(Msg, frozen=True, tag="create_room"):
    room: NewRoomName
    rid: Rid = 0
    password: Annotated[str, Meta(max_length=256)] = ""  # set: joining needs it


class JoinRoom(Msg, frozen=True, tag="join_room"):
    """Join (or re-join after a reconnect). `since`: the last seq the client has; the
    server replies with everything after it, or the recent page when None."""

    room: RoomName
    since: Seq | None = None
    rid: Rid = 0
    watch: bool = False  # receive the room without becoming a member (tail, kiosk viewers)
    #: Post while connected without becoming a member (pyrtc send, upload): a visitor is
    #: never stored, listed or waited for by receipts. A member visiting stays a member.
    visit: bool = False
    password: Annotated[str, Meta(max_length=256)] = ""  # the room's, if it has one
    #: The newest edit/delete (`Edited.change`) the client holds: the reply brings the later
    #: ones of messages up to `since` (those after it come edited already).
    changes_after: Seq = 0


class LeaveRoom(Msg, frozen=True, tag="leave_room"):
    room: RoomName
    rid: Rid = 0


class SendText(Msg, frozen=True, tag="send_text"):
    """`cid` is chosen by the client; the server posts a (sender, cid) pair only once."""

    room: RoomName
    cid: ClientId
    text: Annotated[str, Meta(min_length=1, max_length=L.MAX_TEXT)]
    reply_to: Seq = 0  # the seq of the message this one answers (0: none)


class SetTyping(Msg, frozen=True, tag="set_typing"):
    room: RoomName
    typing: bool


class MarkDelivered(Msg, frozen=True, tag="mark_delivered"):
    room: RoomName
    seq: Seq


class MarkRead(Msg, frozen=True, tag="mark_read"):
    room: RoomName
    seq: Seq


class React(Msg, frozen=True, tag="react"):
    room: RoomName
    seq: Seq
    emoji: Emoji
    on: bool = True


class GetHistory(Msg, frozen=True, tag="get_history"):
    """Messages with before > seq > after, newest `limit` of them (fewer when they would not
    fit in one frame: the reply says `more`)."""

    room: RoomName
    before: Seq | None = None
    after: Seq = 0
    limit: Annotated[int, Meta(ge=1, le=L.MAX_HISTORY_PAGE)] = 100
    rid: Rid = 0


class Search(Msg, frozen=True, tag="search"):
    room: RoomName
    query: Annotated[str, Meta(min_length=1, max_length=L.MAX_QUERY)]
    limit: Annotated[int, Meta(ge=1, le=L.MAX_SEARCH_HITS)] = 50
    rid: Rid = 0


class Ping(Msg, frozen=True, tag="ping"):
    nonce: int = 0


class Pong(Msg, frozen=True, tag="pong"):
    nonce: int = 0


# ---------------------------------------------------------------- shared parts


class RoomInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    members: int = 0
    online: int = 0
    last_seq: int = 0
    locked: bool = False  # joining takes the room's password


class MemberInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    online: bool = False
    delivered: int = 0  # this member's client has every message up to here
    read: int = 0  # ... and has shown it
    #: The room's last seq when this member joined: receipts wait for it on later messages
    #: only (0: from the first, also members stored before this was kept).
    joined_seq: int = 0


# ---------------------------------------------------------------- server -> client


class Greeting(Msg, frozen=True, tag="greeting"):
    """The server's first frame, unprompted: the client checks the version and the server's
    certificate before it sends a byte, then proves its key over `nonce`."""

    version: int
    server_id: str = ""
    server: str = ""
    nonce: Annotated[bytes, Meta(min_length=L.NONCE_SIZE, max_length=L.NONCE_SIZE)] = b"\0" * L.NONCE_SIZE
    #: `server_id` is the chat's id (made by its first host, kept by every peer); `epoch`
    #: counts its hosts (each new one serves epoch + 1); `host` is the serving peer's node id.
    epoch: int = 0
    host: str = ""


class Welcome(Msg, frozen=True, tag="welcome"):
    version: int
    server: str
    name: str
    uid: str = ""  # the identity the name is bound to: SHA-256 of the client's key
    rooms: list[RoomInfo] = []  # the first page (MAX_ROOM_PAGE); ListRooms pages the rest
    joined: list[str] = []  # rooms this name is a member of (kept across sessions), up to MAX_ROOM_PAGE
    max_file: int = 0
    server_id: str = ""  # stable per server (also in its mDNS TXT record)
    max_rate: float = 0.0  # flood control: messages a second (0: none); clients pace themselves
    burst: int = 0
    rooms_total: int = 0  # every room on the server, also those not on the first page
    directs: list[DirectInfo] = []  # this identity's direct conversations (up to MAX_ROOM_PAGE)


class RoomList(Msg, frozen=True, tag="room_list"):
    """A page of rooms (the reply to ListRooms, or to CreateRoom: that one room)."""

    rooms: list[RoomInfo]
    rid: int = 0
    more: bool = False  # rooms after the last of this page exist
    total: int = 0  # every room on the server


class RoomAdded(Msg, frozen=True, tag="room_added"):
    """A room was created: one small frame to everyone, never the whole list again."""

    room: RoomInfo


class Joined(Msg, frozen=True, tag="joined"):
    room: str
    members: list[MemberInfo]  # at most MAX_JOIN_MEMBERS, online ones first
    history: list[Posted]  # the newest that fit in one frame (oldest first)
    last_seq: int
    more: bool = False  # older history exists before history[0] (GetHistory fetches it)
    rid: int = 0
    member_count: int = 0  # all members, also those not listed
    #: Messages up to the join's `since` edited or deleted after its `changes_after`, and the
    #: room's newest change: the client asks from there next time.
    changes: list[Posted] = []
    last_change: int = 0


class Left(Msg, frozen=True, tag="left"):
    room: str
    rid: int = 0


class MembersChanged(Msg, frozen=True, tag="members_changed"):
    """Joins and presence changes of a room, coalesced over a short window: in a big room
    one frame per change to every member would be n² frames."""

    room: str
    joined: list[MemberInfo] = []
    online: list[str] = []
    offline: list[str] = []


class MemberLeft(Msg, frozen=True, tag="member_left"):
    room: str
    name: str


class Acked(Msg, frozen=True, tag="acked"):
    """The sender's ✓ sent: the message is stored with this seq."""

    room: str
    cid: str
    seq: int
    time: float


class Typing(Msg, frozen=True, tag="typing"):
    room: str
    name: str
    typing: bool


class Receipt(Msg, frozen=True, tag="receipt"):
    room: str
    name: str
    delivered: int
    read: int


class Reacted(Msg, frozen=True, tag="reacted"):
    room: str
    seq: int
    emoji: str
    name: str
    on: bool
    count: int = -1  # everyone with this emoji on the message now (-1: not said)


class HistoryPage(Msg, frozen=True, tag="history_page"):
    room: str
    messages: list[Posted]  # the newest that fit in one frame (oldest first)
    more: bool  # older ones (still > after) exist
    rid: int = 0


class SearchHits(Msg, frozen=True, tag="search_hits"):
    room: str
    query: str
    hits: list[Posted]  # newest first; those that fit in one frame
    rid: int = 0
    more: bool = False  # older hits were left out


class Error(Msg, frozen=True, tag="error"):
    code: str
    message: str
    rid: int = 0
    fatal: bool = False  # the server closes the connection after sending it
    cid: str = ""  # set when refusing a SendText / OfferFile: which message failed


ClientMsg = Union[
    Hello, ListRooms, CreateRoom, JoinRoom, LeaveRoom, SendText, SetTyping, MarkDelivered,
    MarkRead, React, OfferFile, FileChunk, FetchFile, GetHistory, Search, Ping, Pong,
    OpenDirect, EditText, DeleteMessage, SetStatus, Replicate, BodyOffer,
]
ServerMsg = Union[
    Greeting, Welcome, RoomList, Joined, Left, MemberLeft, Posted, Acked, Typing,
    Receipt, Reacted, UploadReady, FileData, FileEnd, HistoryPage, SearchHits, Error, Ping, Pong,
    MembersChanged, RoomAdded, DirectOpened, Edited, StatusChanged, Roster, Replicated, HandOver,
    WantBody,
]
