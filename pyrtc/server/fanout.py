"""Fan-out: each room's live state (who receives its frames, who is typing, what changed
since the last flush) and the bus that writes one frame to all of a room's listeners.

This is the "room bus" seam: fan-out goes through `publish`, so rooms could later be shared
between servers through a broker without touching the protocol or the dispatch code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..protocol import MemberInfo
from .connection import Connection, send_to_all

__all__ = ["LiveRoom", "RoomBus"]


@dataclass
class LiveRoom:
    name: str
    listeners: dict[str, Connection] = field(default_factory=dict)  # name -> connection
    typing: dict[str, float] = field(default_factory=dict)  # name -> expiry (monotonic)
    receipts: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (delivered, read)
    #: New members since the flush: name -> (delivered, read, joined_seq)
    joined: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    presence: dict[str, bool] = field(default_factory=dict)  # name -> online, since the flush
    #: The member page sent with `Joined`, kept until the room's next flush or leave: joiners
    #: in between get it as is, and the flush brings them every change since (big rooms:
    #: building it per join made n joins cost n²).
    page: list[MemberInfo] | None = None
    members: int | None = None  # member count, once loaded from the store


class RoomBus:
    def __init__(self) -> None:
        self._rooms: dict[str, LiveRoom] = {}

    def room(self, name: str) -> LiveRoom:
        live = self._rooms.get(name)
        if live is None:
            live = self._rooms[name] = LiveRoom(name)
        return live

    def rooms(self) -> list[LiveRoom]:
        return list(self._rooms.values())

    def subscribe(self, room: str, conn: Connection) -> None:
        assert conn.name is not None
        self.room(room).listeners[conn.name] = conn
        conn.rooms.add(room)

    def unsubscribe(self, room: str, conn: Connection) -> None:
        live = self._rooms.get(room)
        if live is not None and conn.name is not None and live.listeners.get(conn.name) is conn:
            del live.listeners[conn.name]
        conn.rooms.discard(room)

    def publish_now(self, room: str, frame: bytes) -> None:
        """`publish`, written to each listener at once (after a commit: latency)."""
        live = self._rooms.get(room)
        if live is not None:
            send_to_all(live.listeners.values(), frame)

    def online(self, room: str) -> int:
        live = self._rooms.get(room)
        return len(live.listeners) if live else 0

    def publish(self, room: str, frame: bytes, *, skip: Connection | None = None) -> None:
        """The same bytes to every listener of `room`."""
        live = self._rooms.get(room)
        if live is None:
            return
        # The hot loop of fan-out: a connection that already has output queued in this loop
        # iteration (its flush is scheduled) takes the frame with a bare append.
        for conn in live.listeners.values():
            if conn is not skip:
                if conn.out:
                    conn.out.append(frame)
                else:
                    conn.send(frame)
