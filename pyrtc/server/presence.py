"""Who is online in a room, who is typing, and how far each member has read.

Invariant: member changes, presence and receipts reach a room coalesced, at most once per
flush window per room: in a room of n people each message brings n receipts and n joins
bring n member changes, and sending each to everyone would be n² frames. Typing goes out
at once (it is one frame per start or stop), as far as the typist's typing starts are within
`typing_rate`: past it a start is dropped, and so is its stop.
A flush sends at most MAX_MEMBERS_DELTA names a frame: thousands of joins in one window
go out as several frames, never one too big. In a cluster, the receipts taken here go to the
other servers with the same flush: one stream entry per member and window, not per message.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .. import protocol as p
from ..protocol import limits as L
from ..protocol.budget import chunks
from .connection import Connection
from .meters import Meters
from .shared import Shared

if TYPE_CHECKING:
    from .cluster import Cluster

__all__ = ["Presence"]


class Presence:
    def __init__(self, shared: Shared, meters: Meters, cluster: Cluster | None = None) -> None:
        self._shared = shared
        self._meters = meters
        self._cluster = cluster  # typing and receipts reach the other servers of the chat
        if cluster is not None:
            cluster.on_receipt = self.apply_receipt
            cluster.on_presence = self.remote_presence
        #: Receipts taken here since the last flush, for the other servers: (room, name) -> (delivered, read)
        self._outgoing: dict[tuple[str, str], tuple[int, int]] = {}
        self._dirty_rooms: set[str] = set()
        self._flush_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ typing

    def typing(self, conn: Connection, msg: p.SetTyping) -> None:
        assert conn.name is not None
        shared = self._shared
        room = shared.member_room(conn, msg.room)
        live = shared.bus.room(room)
        if msg.typing:
            was = conn.name in live.typing
            if not was and not self._meters.typing(conn):
                return  # typing is a hint: past the limit a start is not shown
            live.typing[conn.name] = shared.clock() + shared.config.typing_ttl
            if not was:
                shared.bus.publish(room, p.encode(p.Typing(room=room, name=conn.name, typing=True)),
                                   skip=conn)
                if self._cluster is not None:
                    self._cluster.typing(room, conn.name, True)
        else:
            self.stop_typing(room, conn.name)

    def stop_typing(self, room: str, name: str) -> None:
        live = self._shared.bus.room(room)
        if live.typing.pop(name, None) is not None:
            self._shared.bus.publish(room, p.encode(p.Typing(room=room, name=name, typing=False)))
            if self._cluster is not None:
                self._cluster.typing(room, name, False)

    def expire_typing(self, now: float) -> None:
        """Stop the typing of those who said nothing more within `typing_ttl`."""
        for live in self._shared.bus.rooms():
            for name, until in list(live.typing.items()):
                if until <= now:
                    self.stop_typing(live.name, name)

    # ------------------------------------------------------------------ receipts

    def receipt(self, conn: Connection, room: str, *, delivered: int, read: int) -> None:
        assert conn.name is not None
        store = self._shared.store
        room = self._shared.joined_room(conn, room)
        last = store.last_seq(room)
        changed = store.set_receipt(room, conn.name, min(delivered, last), min(read, last))
        if changed is not None:
            self._shared.bus.room(room).receipts[conn.name] = (changed.delivered, changed.read)
            self.room_changed(room)
            if self._cluster is not None:  # to the other servers with the next flush (coalesced)
                self._outgoing[(room, conn.name)] = (changed.delivered, changed.read)

    def apply_receipt(self, room: str, name: str, delivered: int, read: int) -> None:
        """A member's receipts as another server of the cluster took them (ours come back too:
        by then they change nothing)."""
        changed = self._shared.store.set_receipt(room, name, delivered, read)
        if changed is not None:
            self._shared.bus.room(room).receipts[name] = (changed.delivered, changed.read)
            self.room_changed(room)

    # ------------------------------------------------------------------ presence

    def went_offline(self, conn: Connection) -> None:
        """`conn` (named) closed: it leaves each room's listeners, and members see it offline
        unless another of its connections still listens there. A visit ends here."""
        assert conn.name is not None
        bus = self._shared.bus
        for room in list(conn.rooms):
            live = bus.room(room)
            bus.unsubscribe(room, conn)
            if live.listeners.get(conn.name) is not None or room in conn.watching:
                continue
            if self._cluster is not None and self._cluster.remote_online(room, conn.name):
                continue  # still online through another server of the chat
            self.stop_typing(room, conn.name)
            if room not in conn.visiting:  # a visitor was never listed: nobody is told it went
                live.presence[conn.name] = False
                self.room_changed(room)

    def remote_presence(self, room: str, name: str, online: bool) -> None:
        """A member went on- or offline through the other servers of the cluster; here it is
        online anyway while it listens through this server."""
        live = self._shared.bus.room(room)
        if name in live.listeners:
            return
        live.presence[name] = online
        self.room_changed(room)

    def is_online(self, room: str, name: str) -> bool:
        """Listening through this server, or through another server of the chat."""
        if name in self._shared.bus.room(room).listeners:
            return True
        return self._cluster is not None and self._cluster.remote_online(room, name)

    # ------------------------------------------------------------------ the coalesced flush

    def room_changed(self, room: str) -> None:
        """Something of `room`'s pending members, presence or receipts changed: flush it soon."""
        self._dirty_rooms.add(room)
        if self._flush_timer is None:
            # With thousands online the window widens (up to 10×), so that the frames stay few.
            window = self._shared.config.receipt_flush * min(10.0, max(1.0, len(self._shared.conns) / 500))
            self._flush_timer = asyncio.get_running_loop().call_later(window, self.flush)

    def flush(self) -> None:
        """Send what changed in each dirty room since the last flush: members, presence,
        receipts."""
        self._flush_timer = None
        bus = self._shared.bus
        if self._outgoing and self._cluster is not None:
            from .cluster.wire import Receipt
            for (room, name), (delivered, read) in self._outgoing.items():
                self._cluster.publish_entry(room, Receipt(room=room, name=name, delivered=delivered, read=read))
        self._outgoing.clear()
        for room in self._dirty_rooms:
            live = bus.room(room)
            live.page = None
            if live.joined or live.presence:
                joined = [p.MemberInfo(name=n, online=self.is_online(room, n), delivered=d, read=r, joined_seq=j)
                          for n, (d, r, j) in live.joined.items()]
                online = [n for n, on in live.presence.items() if on and n not in live.joined]
                offline = [n for n, on in live.presence.items() if not on]
                changes = [*joined, *((n, True) for n in online), *((n, False) for n in offline)]
                for part in chunks(changes, L.MAX_MEMBERS_DELTA):
                    bus.publish(room, p.encode(p.MembersChanged(
                        room=room, joined=[c for c in part if isinstance(c, p.MemberInfo)],
                        online=[c[0] for c in part if isinstance(c, tuple) and c[1]],
                        offline=[c[0] for c in part if isinstance(c, tuple) and not c[1]])))
                live.joined.clear()
                live.presence.clear()
            for name, (delivered, read) in live.receipts.items():
                bus.publish(room, p.encode(p.Receipt(room=room, name=name, delivered=delivered, read=read)))
            live.receipts.clear()
        self._dirty_rooms.clear()
