"""Direct conversations, edits and deletes, and status.

Invariants:
- A direct conversation is between two identities (uids), never two display names: only
  they may join its room, so only they read, search or fetch its files (every such request
  needs the room joined, see `Shared.joined_room`). Opening one makes both members, so the
  other finds it in its Welcome when it comes back, and is told at once when online.
- Only the identity that posted a message may edit or delete it; the change is stored in the
  loop's transaction and sent once committed, to the room and with the request's rid to the
  requester.
- A status lives as long as the connection; those online with one other than "available"
  are told to each joiner of a room they are in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import protocol as p
from ..protocol.codes import ErrorCode
from ..store import Direct, StoredMessage
from ..store.conversations import direct_room
from . import chatlog
from .commit import GroupCommit
from .connection import Connection
from .errors import Refused
from .later import Later, Step
from .messages import posted
from .names import name_keys
from .shared import Shared

if TYPE_CHECKING:
    from .cluster import Cluster

__all__ = ["Conversations", "direct_info"]


def direct_info(d: Direct, last_seq: int) -> p.DirectInfo:
    return p.DirectInfo(room=d.room, peer=d.peer, peer_uid=d.peer_uid, last_seq=last_seq)


class Conversations:
    def __init__(self, shared: Shared, commit: GroupCommit, cluster: Cluster | None = None) -> None:
        self._shared = shared
        self._commit = commit
        self._cluster = cluster  # edits and deletes go through the chat's stream
        self.statuses: dict[str, tuple[str, str]] = {}  # name -> (status, text), online only

    # ------------------------------------------------------------------ direct conversations

    def open_direct(self, conn: Connection, msg: p.OpenDirect, *, current: bool = False) -> Step:
        assert conn.name is not None
        store = self._shared.store
        holders = store.names.holders(name_keys(msg.name))
        if not holders and self._cluster is not None and not current:
            # Someone who came through another server a moment ago: this cache may lag the chat.
            return Later(self._cluster.until_current(), lambda _: self.open_direct(conn, msg, current=True))
        if not holders:
            raise Refused(ErrorCode.UNKNOWN_USER, f"nobody named {msg.name!r} has used this chat; "
                          "a direct message goes to someone who connected at least once")
        peer = next((b for b in holders if b.name == msg.name), holders[0])
        if peer.uid == conn.uid:
            raise Refused(ErrorCode.NOT_ALLOWED, f"{peer.name!r} is you; pick someone else")
        if self._cluster is not None and store.direct_pair(direct_room(conn.uid, peer.uid)) is None:
            self._cluster.open_direct(conn, peer.uid, peer.name, msg.rid)  # on every server, then answered
            return None
        room, new = store.open_direct(conn.uid, conn.name, peer.uid, peer.name)
        last = store.last_seq(room)
        conn.send(p.encode(p.DirectOpened(direct=p.DirectInfo(room=room, peer=peer.name, peer_uid=peer.uid,
                                                              last_seq=last), rid=msg.rid)))
        if new:
            chatlog.line("direct room=%s between=%s,%s", room, conn.name, peer.name)
            told = p.encode(p.DirectOpened(direct=p.DirectInfo(room=room, peer=conn.name, peer_uid=conn.uid,
                                                               last_seq=last)))
            for other in self._shared.sessions.get(peer.uid, ()):
                other.send(told)
        return None

    def check_direct(self, conn: Connection, room: str) -> None:
        """Refuse `conn` a direct conversation's room unless it is one of its two."""
        if not p.is_direct(room):
            return
        pair = self._shared.store.direct_pair(room)
        if pair is None or conn.uid not in pair:
            raise Refused(ErrorCode.NOT_ALLOWED, f"{room!r} is a direct conversation of two other people")

    def directs(self, uid: str, limit: int) -> list[p.DirectInfo]:
        store = self._shared.store
        return [direct_info(d, store.last_seq(d.room)) for d in store.directs_of(uid, limit)]

    # ------------------------------------------------------------------ edits and deletes

    def edit(self, conn: Connection, msg: p.EditText | p.DeleteMessage) -> None:
        shared = self._shared
        room = shared.member_room(conn, msg.room)
        self._own_message(conn, room, msg.seq)
        text = msg.text if isinstance(msg, p.EditText) else None
        if self._cluster is not None:  # changed (and answered) when the stream brings it back
            self._cluster.change(conn, room, msg.seq, text, msg.rid)
            return
        self._commit.begin()
        new = shared.store.change_message(room, msg.seq, text)
        frame = self._edited(new)
        self._commit.add(conn, room, "", new.seq, p.encode(self._edited(new, msg.rid)), p.encode(frame))
        if new.deleted:
            chatlog.line("delete room=%s seq=%d from=%s", room, new.seq, conn.name)
        elif shared.config.log_text:
            chatlog.line("edit room=%s seq=%d from=%s text=%s", room, new.seq, conn.name, chatlog.quote(new.text))
        else:
            chatlog.line("edit room=%s seq=%d from=%s", room, new.seq, conn.name)

    def _own_message(self, conn: Connection, room: str, seq: int) -> StoredMessage:
        found = self._shared.store.message(room, seq)
        if found is None:
            raise Refused(ErrorCode.UNKNOWN_MESSAGE, f"there is no message {seq} in {room!r}")
        # Rows from before protocol 4 have no uid: their name was bound to one key already.
        mine = found.uid == conn.uid if found.uid else found.sender == conn.name
        if not mine:
            raise Refused(ErrorCode.NOT_YOURS, f"message {seq} is {found.sender}'s: only its sender "
                          "may edit or delete it")
        if found.deleted:
            raise Refused(ErrorCode.UNKNOWN_MESSAGE, f"message {seq} was deleted")
        return found

    @staticmethod
    def _edited(m: StoredMessage, rid: int = 0) -> p.Edited:
        return p.Edited(room=m.room, seq=m.seq, text=m.text, edited=m.edited, deleted=m.deleted,
                        change=m.change, rid=rid)

    def changes_since(self, room: str, after: int, upto_seq: int) -> tuple[list[p.Posted], int]:
        """What a client coming back missed of the messages it holds: (changed ones, the
        room's newest change)."""
        store = self._shared.store
        last = store.last_change(room)
        if last <= after:
            return [], last
        return [posted(m) for m in store.changes(room, after, upto_seq, 200)], last

    # ------------------------------------------------------------------ status

    def set_status(self, conn: Connection, msg: p.SetStatus) -> None:
        assert conn.name is not None
        now = (msg.status, msg.text.strip())
        if self.statuses.get(conn.name, ("available", "")) == now:
            return
        if now == ("available", ""):
            self.statuses.pop(conn.name, None)
        else:
            self.statuses[conn.name] = now
        chatlog.line("status name=%s status=%s", conn.name, msg.status)
        frame = p.encode(p.StatusChanged(name=conn.name, status=now[0], text=now[1]))
        told: set[Connection] = {conn}
        conn.send(frame)
        for room in conn.rooms:  # everyone who can see this name in a member list
            for other in self._shared.bus.room(room).listeners.values():
                if other not in told:
                    told.add(other)
                    other.send(frame)

    def statuses_in(self, conn: Connection, room: str) -> None:
        """Tell a joiner of `room` the status of those online there who set one."""
        if not self.statuses:
            return
        for name in self._shared.bus.room(room).listeners:
            status = self.statuses.get(name)
            if status is not None:
                conn.send(p.encode(p.StatusChanged(name=name, status=status[0], text=status[1])))

    def went_offline(self, conn: Connection) -> None:
        """A status ends with its connection: those who saw it are told (before the rooms
        forget the connection), so it does not stay beside the name when it comes back."""
        if conn.name is None or self.statuses.pop(conn.name, None) is None:
            return
        frame = p.encode(p.StatusChanged(name=conn.name))
        told: set[Connection] = {conn}
        for room in conn.rooms:
            for other in self._shared.bus.room(room).listeners.values():
                if other not in told:
                    told.add(other)
                    other.send(frame)
