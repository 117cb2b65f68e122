"""The messages that keep a chat alive across hosts: the roster of host-capable peers,
copies pushed to a new host, and a planned hand-over. The wire rules of `messages` hold."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from . import limits as L
from .fields import BlobId, Emoji, Msg, Offset, Rid, RoomName, Seq, UserName
from .posted import Posted

__all__ = ["PeerInfo", "Roster", "Replicate", "Replicated", "HandOver", "WantBody", "BodyOffer", "ReactionCopy",
           "ReceiptCopy"]


class PeerInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A host-capable peer: who it is (node id: its installation's key id), where it would
    listen, and the certificate it would show; the host vouches for it in the `Roster`."""

    node: Annotated[str, Meta(max_length=64)]
    name: Annotated[str, Meta(max_length=64)] = ""
    addresses: Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=L.MAX_PEER_ADDRESSES)] = []
    port: Annotated[int, Meta(ge=0, le=65535)] = 0
    fingerprint: Annotated[str, Meta(max_length=64)] = ""


class ReactionCopy(msgspec.Struct, frozen=True, array_like=True):
    """One reaction, as the host that took it numbered its message; the message's sender and
    time say which message it is (a new host that numbers it otherwise skips it)."""

    seq: Seq
    emoji: Emoji
    name: UserName
    sender: UserName
    time: float


class ReceiptCopy(msgspec.Struct, frozen=True, array_like=True):
    """A member's receipts ("up to seq") in a room, as the host that took them numbered it."""

    name: UserName
    delivered: Seq
    read: Seq


# ---------------------------------------------------------------- client -> server


class Replicate(Msg, frozen=True, tag="replicate"):
    """A peer's copies of a room's messages, as an earlier host numbered them, for a new host
    that lacks them (collected after a crash, synced by a returning peer, merged after two
    hosts). Only from a peer of the roster. `done`: this peer has pushed everything."""

    room: RoomName
    messages: Annotated[list[Posted], Meta(max_length=L.MAX_HISTORY_PAGE)] = []
    done: bool = False
    rid: Rid = 0
    #: A direct conversation's two members, (uid, name) each: the new host serves it to them
    #: alone, as the old one did (the room's name is derived from the two uids: checked).
    pair: Annotated[list[tuple[Annotated[str, Meta(max_length=128)], UserName]], Meta(max_length=2)] = []
    #: A leaving host's reactions and receipts of the room (a planned hand-over): what its
    #: successor did not see happen (it was not in the room, or they came at the last moment).
    reactions: Annotated[list[ReactionCopy], Meta(max_length=L.MAX_HISTORY_PAGE)] = []
    receipts: Annotated[list[ReceiptCopy], Meta(max_length=L.MAX_JOIN_MEMBERS)] = []


class BodyOffer(Msg, frozen=True, tag="body_offer"):
    """The answer to `WantBody`: whether this peer keeps that body (`held`, and its `size`).
    If it does and the host still wants it, the host answers `UploadReady` (with the `rid`)
    and the peer sends the body as `FileChunk`s from that offset; the host checks its hash."""

    blob_id: BlobId
    held: bool = False
    size: Offset = 0
    rid: Rid = 0


# ---------------------------------------------------------------- server -> client


class Roster(Msg, frozen=True, tag="roster"):
    """The host-capable peers of the chat, pushed by the host whenever it changes, over the
    pinned connection: the election list, and the certificates the host vouches for."""

    chat_id: str
    epoch: int
    host: str  # the serving peer's node id
    peers: list[PeerInfo] = []
    #: A host that took the chat over: each room's last seq when it did. Peers push what they
    #: hold after it (what another host of the chat may have numbered differently).
    since: dict[str, int] = {}


class Replicated(Msg, frozen=True, tag="replicated"):
    """The reply to Replicate: how many of its messages were new here, and how many of
    those got a new seq (their own was another message's here: merged after it)."""

    room: str
    stored: int = 0
    renumbered: int = 0
    rid: int = 0


class HandOver(Msg, frozen=True, tag="hand_over"):
    """The host is leaving (a planned quit): `successor` (a node id of the roster) hosts the
    chat at `epoch` from now; clients move there by themselves."""

    successor: str
    epoch: int
    host_name: str = ""  # who is leaving, for the one line users see
    pushes: bool = True  # the leaving host pushes its copies to the successor, then `done`


class WantBody(Msg, frozen=True, tag="want_body"):
    """The host lacks a file body someone asked for (it took the chat over from a host that
    held it): a peer that keeps it in its replica answers `BodyOffer`."""

    blob_id: str
