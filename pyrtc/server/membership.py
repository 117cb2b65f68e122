"""Rooms and their members: create, list, join (or watch), leave.

Invariants:
- Joining costs bounded work whatever the room's size: the member page is capped
  (MAX_JOIN_MEMBERS, online members first) and kept until the room's next flush, and the
  member count is loaded once; the changes reach everyone with the next flush.
- A locked room asks its password of a newcomer only; a member comes back without it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from .. import protocol as p
from ..protocol import limits as L
from ..protocol.codes import ErrorCode
from . import chatlog
from .connection import Connection
from .errors import Refused
from .messages import posted
from .passwords import PasswordGate, check_password, hash_password
from .presence import Presence
from .shared import Shared

__all__ = ["Membership"]


class Membership:
    def __init__(self, shared: Shared, presence: Presence, gate: PasswordGate,
                 rooms_changed: Callable[[], None]) -> None:
        self._shared = shared
        self._presence = presence
        self._gate = gate
        self._rooms_changed = rooms_changed  # the number of rooms may have changed

    def list_rooms(self, conn: Connection, msg: p.ListRooms) -> None:
        conn.send(p.encode(p.RoomList(rooms=self._shared.room_infos(), rid=msg.rid)))

    def create_room(self, conn: Connection, msg: p.CreateRoom) -> None:
        shared = self._shared
        if shared.store.find_room(msg.room) is None and shared.store.create_room(
                msg.room, hash_password(msg.password) if msg.password else ""):
            chatlog.line("create room=%s by=%s", msg.room, conn.name)
            self._rooms_changed()
            frame = p.encode(p.RoomList(rooms=shared.room_infos()))
            for other in shared.conns:
                if other is not conn and other.name is not None:
                    other.send(frame)
        conn.send(p.encode(p.RoomList(rooms=shared.room_infos(), rid=msg.rid)))

    def join(self, conn: Connection, msg: p.JoinRoom) -> None:
        assert conn.name is not None
        store, bus = self._shared.store, self._shared.bus
        room = store.find_room(msg.room)
        if room is None:
            names = ", ".join(n for n, *_ in store.rooms())
            raise Refused(ErrorCode.UNKNOWN_ROOM, f"there is no room named {msg.room!r} (rooms: {names})")
        live = bus.room(room)
        locked = store.room_password(room)
        if locked and room not in conn.rooms and not store.members_named(room, [conn.name]):
            if not check_password(msg.password, locked):
                self._gate.refuse(conn, f"the room {room!r} needs its password"
                                  + (", and that one is not it" if msg.password else ""),
                                  rid=msg.rid, fatal=False)
                return
            self._gate.passed(conn)
        if msg.watch and not store.members_named(room, [conn.name]):
            conn.watching.add(room)
            bus.subscribe(room, conn)
            chatlog.line("watch room=%s name=%s", room, conn.name)
        else:
            conn.watching.discard(room)
            member, new = store.add_member(room, conn.name)
            bus.subscribe(room, conn)
            if new:
                live.joined[conn.name] = (member.delivered, member.read)
                if live.members is not None:
                    live.members += 1
                chatlog.line("join room=%s name=%s", room, conn.name)
            else:
                live.presence[conn.name] = True
            self._presence.room_changed(room)
        if msg.since is None:
            history, more = store.history(room, limit=self._shared.config.history_page)
        else:
            history, more = store.history(room, after=msg.since, limit=L.MAX_HISTORY_PAGE)
        if live.page is None:
            live.page = self._member_page(room)
        if live.members is None:
            live.members = store.member_count(room)
        conn.send(p.encode(p.Joined(room=room, members=live.page,
                                    history=[posted(m) for m in history],
                                    last_seq=store.last_seq(room), more=more, rid=msg.rid,
                                    member_count=live.members)))
        for name in live.typing:
            conn.send(p.encode(p.Typing(room=room, name=name, typing=True)))

    def _member_page(self, room: str) -> list[p.MemberInfo]:
        """Up to MAX_JOIN_MEMBERS members, online ones first: bounded work per join, whatever
        the room's size (joins of n people would otherwise cost n²)."""
        store = self._shared.store
        live = self._shared.bus.room(room)
        cap = L.MAX_JOIN_MEMBERS
        online = [n for n, c in itertools.islice(live.listeners.items(), 4 * cap)
                  if room not in c.watching][:cap]
        page = [p.MemberInfo(name=m.name, online=True, delivered=m.delivered, read=m.read)
                for m in store.members_named(room, online)]
        if len(page) < cap:
            seen = set(online)
            page += [p.MemberInfo(name=m.name, online=False, delivered=m.delivered, read=m.read)
                     for m in store.members(room, limit=2 * cap) if m.name not in seen][: cap - len(page)]
        return page

    def leave(self, conn: Connection, msg: p.LeaveRoom) -> None:
        assert conn.name is not None
        bus = self._shared.bus
        room = self._shared.joined_room(conn, msg.room)
        if room in conn.watching:
            conn.watching.discard(room)
            bus.unsubscribe(room, conn)
            conn.send(p.encode(p.Left(room=room, rid=msg.rid)))
            return
        self._presence.stop_typing(room, conn.name)
        bus.unsubscribe(room, conn)
        self._shared.store.remove_member(room, conn.name)
        live = bus.room(room)
        live.page = None  # the leave goes out now, not with the next flush
        if live.members is not None:
            live.members -= 1
        # Nor may the next flush bring the leaver back (joined, then left, inside one window).
        for pending in (live.joined, live.presence, live.receipts):
            pending.pop(conn.name, None)
        bus.publish(room, p.encode(p.MemberLeft(room=room, name=conn.name)))
        conn.send(p.encode(p.Left(room=room, rid=msg.rid)))
        chatlog.line("leave room=%s name=%s", room, conn.name)
