"""What every part of the server works on, handed to each part explicitly: the settings,
the clock, the history, the file bodies, the rooms' listeners and the open connections;
and the rule for which room a request may touch.

Invariant: one `Shared` per server, built by `ChatServer` and never replaced, so every
part sees the same rooms and connections; all of it is touched on the loop thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .. import protocol as p
from ..protocol import limits as L
from ..protocol.codes import ErrorCode
from ..store import BlobStore, Store
from .config import ServerConfig
from .connection import Connection
from .errors import Refused
from .fanout import RoomBus

__all__ = ["Shared"]


@dataclass(eq=False)
class Shared:
    config: ServerConfig
    clock: Callable[[], float]
    store: Store
    blobs: BlobStore
    bus: RoomBus = field(default_factory=RoomBus)
    conns: set[Connection] = field(default_factory=set)  # every open one, named or not
    sessions: dict[str, set[Connection]] = field(default_factory=dict)  # uid -> its named connections

    def room_page(self, after: str = "", limit: int = L.MAX_ROOM_PAGE) -> tuple[list[p.RoomInfo], bool]:
        """Rooms named after `after`, `limit` of them, and whether more follow: never the
        whole list in one frame (thousands of rooms would not fit)."""
        rows = self.store.rooms_page(after, limit + 1)
        return [p.RoomInfo(name=n, members=m, online=self.bus.online(n), last_seq=s, locked=locked)
                for n, s, m, locked in rows[:limit]], len(rows) > limit

    def room_info(self, room: str) -> p.RoomInfo:
        store = self.store
        return p.RoomInfo(name=room, members=store.member_count(room), online=self.bus.online(room),
                          last_seq=store.last_seq(room), locked=bool(store.room_password(room)))

    def joined_room(self, conn: Connection, room: str) -> str:
        """The stored spelling of `room`, which `conn` must receive (member or watcher)."""
        if room in conn.rooms:
            return room
        found = self.store.find_room(room)
        if found is not None and found in conn.rooms:
            return found
        if found is None:
            raise Refused(ErrorCode.UNKNOWN_ROOM, f"there is no room named {room!r}")
        raise Refused(ErrorCode.NOT_JOINED, f"join {found!r} first")

    def member_room(self, conn: Connection, room: str) -> str:
        """`joined_room`, and `conn` must be a member: watchers read but do not post."""
        room = self.joined_room(conn, room)
        if room in conn.watching:
            raise Refused(ErrorCode.WATCHING, f"you watch {room!r} without being a member; join it to post")
        return room
