"""What happens to a client besides the server's messages: the session reports its
connection, its own pending texts and its file transfers as these local events, through
the same stream as the server's messages (`Event`), so `ChatState.apply` folds both.

Each event carries the time it needs (`PendingText.time`): applying one reads no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from .. import protocol as p

__all__ = ["Connecting", "Connected", "Disconnected", "PendingText", "TransferUpdate", "Notice", "Rebased", "LocalEvent",
           "Event"]


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
    #: We closed it to follow the chat to its new host (a hand-over): nothing went wrong, and
    #: the last words of the old connection (an EOF, a TLS error mid-shutdown) do not matter.
    moving: bool = False


@dataclass(frozen=True, slots=True)
class PendingText:
    room: str
    cid: str
    sender: str
    text: str
    time: float
    reply_to: int = 0


@dataclass(frozen=True, slots=True)
class Notice:
    """A line for the user from the session itself ("Ann left; Bob is hosting this chat now")."""

    text: str


@dataclass(frozen=True, slots=True)
class Rebased:
    """The room's messages after `after` were numbered by another host of the chat (two hosts
    were merged): they are forgotten here, and fetched again as the host numbers them."""

    room: str
    after: int


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


LocalEvent = Union[Connecting, Connected, Disconnected, PendingText, TransferUpdate, Notice, Rebased]
Event = Union[p.ServerMsg, LocalEvent]
