"""What one entry of the chat's stream does to this server's cache and its clients: the
same on every server, in stream order, so that every cache numbers every room alike."""

from __future__ import annotations

from collections.abc import Callable

from ... import protocol as p
from ...protocol.codes import ErrorCode
from ...store import StoredFile, StoredMessage
from .. import chatlog
from ..commit import GroupCommit
from ..connection import Connection
from ..posts import posted
from ..shared import Shared
from .wire import Change, DirectMade, Entry, Member, NameBound, Post, Reaction, Receipt, RoomMade

__all__ = ["Applying"]


class Applying:
    """A mixin of `Cluster`: how an entry is applied, apart from how the stream is followed
    (chat.py) because this part needs no NATS, only the store and the room bus."""

    # Set by Cluster.__init__.
    _shared: Shared
    _commit: GroupCommit
    _pending: dict[str, tuple[Connection, str]]  # post token -> (sender, cid)
    _changing: dict[str, tuple[Connection, int]]  # change token -> (requester, rid)
    on_room_made: Callable[[str], None] | None
    on_receipt: Callable[[str, str, int, int], None] | None
    on_member: Callable[[str, str, str, bool], None] | None
    _apply_name: Callable[[NameBound], None]  # people.py
    _apply_direct: Callable[[DirectMade], None]

    def _apply(self, entry: Entry, seq: int) -> None:
        match entry:
            case Post():
                self._apply_post(entry)
            case RoomMade():
                if self._shared.store.create_room(entry.room, entry.password, creator=entry.creator):
                    if self.on_room_made:
                        self.on_room_made(entry.room)
            case Reaction():
                self._apply_reaction(entry)
            case Receipt():
                if self.on_receipt:
                    self.on_receipt(entry.room, entry.name, entry.delivered, entry.read)
            case Member():
                if self.on_member:
                    self.on_member(entry.room, entry.name, entry.uid, entry.on)
            case Change():
                self._apply_change(entry)
            case NameBound():
                self._apply_name(entry)
            case DirectMade():
                self._apply_direct(entry)

    def _apply_post(self, post: Post) -> None:
        """The rule every server applies the same way (see ordering): a resend gets nothing
        new, any other post its room's last seq + 1."""
        store = self._shared.store
        waiting = self._pending.pop(post.token, None)
        conn = waiting[0] if waiting and not waiting[0].closed else None
        known = store.find_by_cid(post.room, post.sender, post.cid)
        if known is not None:
            if conn is not None:
                conn.send(p.encode(p.Acked(room=post.room, cid=post.cid, seq=known.seq, time=known.time)))
            return
        f = post.file
        file = None if f is None else StoredFile(blob_id=f.blob_id, name=f.name, size=f.size, mime=f.mime,
                                                 thumb_id=f.thumb_id, width=f.width, height=f.height)
        seq = store.last_seq(post.room) + 1
        stored = store.apply(StoredMessage(post.room, seq, post.sender, post.time, post.text, post.cid, file,
                                           uid=post.uid, reply_to=post.reply_to))
        assert stored is not None  # seq is past the room's last
        ack = p.encode(p.Acked(room=post.room, cid=post.cid, seq=seq, time=post.time))
        self._commit.add(conn, post.room, post.cid, seq, ack, p.encode(posted(stored)))

    def _apply_reaction(self, r: Reaction) -> None:
        store = self._shared.store
        if not store.message_exists(r.room, r.seq):
            return
        if store.set_reaction(r.room, r.seq, r.emoji, r.name, r.on):
            count = store.reaction_counts(r.room, r.seq).get(r.emoji, 0)
            self._shared.bus.publish(r.room, p.encode(p.Reacted(room=r.room, seq=r.seq, emoji=r.emoji,
                                                                name=r.name, on=r.on, count=count)))

    def _apply_change(self, c: Change) -> None:
        """An edit or delete, by the same rule on every server: only of a post still there and
        still its sender's (checked again here: a delete may have come first in the stream)."""
        store = self._shared.store
        waiting = self._changing.pop(c.token, None)
        conn = waiting[0] if waiting and not waiting[0].closed else None
        rid = waiting[1] if waiting else 0
        old = store.message(c.room, c.seq)
        if old is None or old.deleted or not (old.uid == c.uid if old.uid else old.sender == c.name):
            if conn is not None:
                conn.send(p.encode(p.Error(code=ErrorCode.UNKNOWN_MESSAGE, rid=rid,
                                           message=f"message {c.seq} in {c.room!r} was deleted or is not yours")))
            return
        new = store.change_message(c.room, c.seq, c.text, now=c.time or None)
        edited = p.Edited(room=new.room, seq=new.seq, text=new.text, edited=new.edited, deleted=new.deleted,
                          change=new.change)
        answer = p.Edited(room=new.room, seq=new.seq, text=new.text, edited=new.edited, deleted=new.deleted,
                          change=new.change, rid=rid)
        self._commit.add(conn, c.room, "", new.seq, p.encode(answer), p.encode(edited))
        chatlog.line("%s room=%s seq=%d from=%s (cluster)", "delete" if new.deleted else "edit", c.room, c.seq,
                     c.name)
