"""Rooms and their members: create, list, join (or watch), leave.

Invariants:
- Joining costs bounded work whatever the room's size: the member page is capped
  (MAX_JOIN_MEMBERS, online members first) and kept until the room's next flush, and the
  member count is loaded once; the changes reach everyone with the next flush.
- A locked room asks its password of a newcomer only; a member comes back without it. A
  membership is that of the identity that joined: the same name under another key is a
  newcomer.
- A member is stored with its join point (the room's last seq then): receipts of older
  messages do not wait for it. Leaving ends the membership, receipts and all. Watchers and
  visitors (`JoinRoom.watch`, `.visit`: pyrtc tail, send, upload) are never members.
- Room passwords are hashed and checked off the event loop (`PasswordWork`, `Later`).
- Every frame made from the store is bounded whatever it holds: rooms go out a page at a
  time (a new room as one `RoomAdded`), and a join's history is cut to fit one frame.
- Rooms are limited in number (`max_rooms`) and per user and hour (`rooms_per_hour`); joins,
  leaves and watches are metered per user and address (`Meters.change`), except a resume:
  a member's rejoin, and a watch or visit its identity held on a connection that closed
  lately (`Meters.resumed`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import protocol as p
from ..protocol import limits as L
from ..protocol.budget import fit_newest, room_for
from ..protocol.codes import ErrorCode
from . import chatlog
from .connection import Connection
from .conversations import Conversations
from .errors import Refused
from .later import Later, Step
from .messages import posted
from .meters import Meters, user_key
from .passwords import PasswordGate, PasswordWork
from .presence import Presence
from .shared import Shared

if TYPE_CHECKING:
    from .cluster import Cluster

__all__ = ["Membership"]

_HOUR = 3600.0


class Membership:
    def __init__(self, shared: Shared, presence: Presence, gate: PasswordGate, meters: Meters,
                 work: PasswordWork, conversations: Conversations,
                 rooms_changed: Callable[[], None], cluster: Cluster | None = None) -> None:
        self._shared = shared
        self._conversations = conversations
        self._cluster = cluster  # rooms are made through the chat's stream
        if cluster is not None:
            cluster.on_room_made = self._room_made
            cluster.on_member = self._member_changed
        self._presence = presence
        self._gate = gate
        self._meters = meters
        self._work = work
        self._rooms_changed = rooms_changed  # the number of rooms may have changed

    def list_rooms(self, conn: Connection, msg: p.ListRooms) -> None:
        rooms, more = self._shared.room_page(msg.after, msg.limit)
        conn.send(p.encode(p.RoomList(rooms=rooms, rid=msg.rid, more=more,
                                      total=self._shared.store.room_count())))

    def create_room(self, conn: Connection, msg: p.CreateRoom) -> Step:
        if msg.password and self._shared.store.find_room(msg.room) is None:
            self._check_room_quota(conn)  # before the hash: a refusal costs no scrypt
            return Later(self._work.hash(msg.password), lambda hashed: self._create(conn, msg, hashed))
        return self._create(conn, msg, "")

    def _create(self, conn: Connection, msg: p.CreateRoom, password_hash: str) -> Step:
        shared = self._shared
        store = shared.store
        if store.find_room(msg.room) is None:
            self._check_room_quota(conn)  # again: the hash took a while
            if self._cluster is not None:  # made when the stream brings it back (every server)
                made = self._cluster.create_room(msg.room, password_hash, user_key(conn), conn.name or "")
                return Later(made, lambda _: self._created(conn, msg))
            if store.create_room(msg.room, password_hash, creator=user_key(conn)):
                chatlog.line("create room=%s by=%s", msg.room, conn.name)
                self._room_made(msg.room, skip=conn)
        return self._created(conn, msg)

    def _room_made(self, room: str, skip: Connection | None = None) -> None:
        """A new room: one small frame to everyone (sending the whole list made each new room
        cost rooms × users bytes, and the list outgrew a frame)."""
        shared = self._shared
        self._rooms_changed()
        frame = p.encode(p.RoomAdded(room=shared.room_info(room)))
        for other in shared.conns:
            if other is not skip and other.name is not None:
                other.send(frame)

    def _created(self, conn: Connection, msg: p.CreateRoom) -> Step:
        shared, store = self._shared, self._shared.store
        room = store.find_room(msg.room) or msg.room
        conn.send(p.encode(p.RoomList(rooms=[shared.room_info(room)], rid=msg.rid, more=False,
                                      total=store.room_count())))
        return None

    def _check_room_quota(self, conn: Connection) -> None:
        cfg, store = self._shared.config, self._shared.store
        if cfg.max_rooms and store.room_count() >= cfg.max_rooms:
            raise Refused(ErrorCode.ROOM_LIMIT, f"this server has {cfg.max_rooms} rooms, as many as it "
                          "allows (server --max-rooms); join one of them")
        if cfg.rooms_per_hour:
            made = store.rooms_created(user_key(conn), _HOUR)
            if made >= cfg.rooms_per_hour:
                raise Refused(ErrorCode.ROOM_QUOTA, f"you created {made} rooms in the last hour; this "
                              f"server allows {cfg.rooms_per_hour} per user (server --rooms-per-hour)")

    def join(self, conn: Connection, msg: p.JoinRoom) -> Step:
        assert conn.name is not None
        store = self._shared.store
        room = store.find_room(msg.room)
        if room is None:
            some = [n for n, *_ in store.rooms_page(limit=10)]
            names = ", ".join(some) + (", …" if store.room_count() > len(some) else "")
            raise Refused(ErrorCode.UNKNOWN_ROOM, f"there is no room named {msg.room!r} (rooms: {names})")
        self._conversations.check_direct(conn, room)  # two people only, whatever the request
        locked = store.room_password(room)
        if locked and room not in conn.rooms and not store.is_member(room, conn.name, conn.uid):
            return Later(self._work.check(msg.password, locked),
                         lambda ok: self._password_checked(conn, msg, room, ok))
        self._join(conn, msg, room)
        return None

    def _password_checked(self, conn: Connection, msg: p.JoinRoom, room: str, ok: bool) -> Step:
        if not ok:
            return self._gate.refuse(conn, f"the room {room!r} needs its password"
                                     + (", and that one is not it" if msg.password else ""),
                                     rid=msg.rid, fatal=False)
        self._gate.passed(conn)
        self._join(conn, msg, room)
        return None

    def _join(self, conn: Connection, msg: p.JoinRoom, room: str) -> None:
        assert conn.name is not None
        store, bus = self._shared.store, self._shared.bus
        live = bus.room(room)
        member = store.is_member(room, conn.name, conn.uid)
        if (msg.watch or msg.visit) and not member:
            # Receive the room (watch), and post there while connected (visit), as a non-member:
            # nothing stored, nobody told, no receipt waits for it.
            kind, other = (conn.watching, conn.visiting) if msg.watch else (conn.visiting, conn.watching)
            what = "watch" if msg.watch else "visit"
            # Again on this connection, or on the next one after a reconnect (a resume): no change.
            if room not in kind and not self._meters.resumed(conn, room, what):
                self._meters.change(conn)
                chatlog.line("%s room=%s name=%s", what, room, conn.name)
            kind.add(room)
            other.discard(room)
            bus.subscribe(room, conn)
        else:
            if not member:
                self._meters.change(conn)
            conn.watching.discard(room)
            conn.visiting.discard(room)
            marks, new = store.add_member(room, conn.name, conn.uid)
            bus.subscribe(room, conn)
            if new and self._cluster is not None:
                from .cluster.wire import Member
                self._cluster.publish_entry(room, Member(room=room, name=conn.name, uid=conn.uid, on=True))
            if new:
                live.joined[conn.name] = (marks.delivered, marks.read, marks.joined_seq)
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
        changes, last_change = ([], 0) if msg.since is None else self._conversations.changes_since(
            room, msg.changes_after, msg.since)
        last_change = last_change or store.last_change(room)
        joined = p.Joined(room=room, members=live.page, history=[], last_seq=store.last_seq(room),
                          more=more, rid=msg.rid, member_count=live.members)
        changes, _ = fit_newest(changes, room_for(joined) // 2)
        joined = p.Joined(room=room, members=live.page, history=[], last_seq=joined.last_seq, more=more,
                          rid=msg.rid, member_count=live.members, changes=changes, last_change=last_change)
        page, cut = fit_newest([posted(m) for m in history], room_for(joined))
        conn.send(p.encode(p.Joined(room=room, members=live.page, history=page, last_seq=joined.last_seq,
                                    more=more or cut, rid=msg.rid, member_count=live.members,
                                    changes=changes, last_change=last_change)))
        for name in live.typing:
            conn.send(p.encode(p.Typing(room=room, name=name, typing=True)))
        self._conversations.statuses_in(conn, room)

    def _member_page(self, room: str) -> list[p.MemberInfo]:
        """Up to MAX_JOIN_MEMBERS members, online ones first: bounded work per join, whatever
        the room's size (joins of n people would otherwise cost n²)."""
        store = self._shared.store
        live = self._shared.bus.room(room)
        cap = L.MAX_JOIN_MEMBERS
        online = [n for n, c in itertools.islice(live.listeners.items(), 4 * cap)
                  if room not in c.watching and room not in c.visiting][:cap]
        if self._cluster is not None and len(online) < cap:  # online through other servers too
            here = set(online)
            online += [n for n in self._cluster.remote_names(room) if n not in here][:cap - len(online)]
        page = [p.MemberInfo(name=m.name, online=True, delivered=m.delivered, read=m.read,
                             joined_seq=m.joined_seq)
                for m in store.members_named(room, online)]
        if len(page) < cap:
            seen = set(online)
            page += [p.MemberInfo(name=m.name, online=False, delivered=m.delivered, read=m.read,
                                  joined_seq=m.joined_seq)
                     for m in store.members(room, limit=2 * cap) if m.name not in seen][: cap - len(page)]
        return page

    def leave(self, conn: Connection, msg: p.LeaveRoom) -> None:
        assert conn.name is not None
        bus = self._shared.bus
        room = self._shared.joined_room(conn, msg.room)
        if room in conn.watching or room in conn.visiting:  # nobody was told it came
            conn.watching.discard(room)
            conn.visiting.discard(room)
            self._presence.stop_typing(room, conn.name)
            bus.unsubscribe(room, conn)
            conn.send(p.encode(p.Left(room=room, rid=msg.rid)))
            return
        self._meters.change(conn)
        self._presence.stop_typing(room, conn.name)
        bus.unsubscribe(room, conn)
        self._shared.store.remove_member(room, conn.name)
        if self._cluster is not None:
            from .cluster.wire import Member
            self._cluster.publish_entry(room, Member(room=room, name=conn.name, uid=conn.uid, on=False))
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

    def _member_changed(self, room: str, name: str, uid: str, joined: bool) -> None:
        """A membership that began or ended on some server of the cluster (this one's own
        come back too: by then they change nothing)."""
        store, bus = self._shared.store, self._shared.bus
        live = bus.room(room)
        if joined:
            marks, new = store.add_member(room, name, uid)
            if new:
                live.joined[name] = (marks.delivered, marks.read, marks.joined_seq)
                if live.members is not None:
                    live.members += 1
                self._presence.room_changed(room)
            return
        if not store.is_member(room, name, uid):
            return
        store.remove_member(room, name)
        live.page = None
        if live.members is not None:
            live.members -= 1
        for pending in (live.joined, live.presence, live.receipts):
            pending.pop(name, None)
        bus.publish(room, p.encode(p.MemberLeft(room=room, name=name)))
