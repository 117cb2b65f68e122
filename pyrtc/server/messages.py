"""Posting and reading back: text and file posts, history pages, search, reactions.

Invariants:
- A post is stored in the loop iteration's transaction and acknowledged only once that
  committed (`GroupCommit`); a resend of a stored cid is acknowledged again, posted never.
- Each post goes to the `pyrtc.chat` logger, its text escaped (or left out, --no-log-text).
- History pages and search hits are cut to fit one frame, newest kept (`more` says so); a
  message carries its reactions capped (see store), so no page can outgrow MAX_FRAME.
- A reaction is one emoji (the `emoji` package's table), at most MAX_REACTION_KINDS kinds
  and `max_reactions` in all on one message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import emoji

from .. import protocol as p
from ..protocol import limits as L
from ..protocol.budget import fit_first, fit_newest, room_for
from ..protocol.codes import ErrorCode
from ..store import Duplicate, StoredFile
from . import chatlog
from .commit import GroupCommit
from .connection import Connection
from .errors import Refused
from .posts import posted
from .presence import Presence
from .shared import Shared

if TYPE_CHECKING:
    from .cluster import Cluster

__all__ = ["Messages", "posted"]


class Messages:
    def __init__(self, shared: Shared, commit: GroupCommit, presence: Presence,
                 cluster: Cluster | None = None) -> None:
        self._shared = shared
        self._commit = commit
        self._presence = presence
        self._cluster = cluster

    def send_text(self, conn: Connection, msg: p.SendText) -> None:
        room = self._shared.member_room(conn, msg.room)
        if msg.reply_to and not self._shared.store.message_exists(room, msg.reply_to):
            raise Refused(ErrorCode.UNKNOWN_MESSAGE, f"there is no message {msg.reply_to} in {room!r} to reply to")
        self.post(conn, room, msg.cid, msg.text, None, reply_to=msg.reply_to)

    def post(self, conn: Connection, room: str, cid: str, text: str, file: StoredFile | None, *,
             reply_to: int = 0) -> None:
        """Store a post by `conn` in `room` (a member's: checked by the caller) and send it."""
        assert conn.name is not None
        if self._cluster is not None:
            self._post_to_cluster(self._cluster, conn, room, cid, text, file, reply_to)
            return
        self._commit.begin()
        try:
            stored = self._shared.store.append(room, conn.name, text, cid, file, uid=conn.uid, reply_to=reply_to)
        except Duplicate as dup:  # a resend after a reconnect: ack again, post nothing
            m = dup.message
            self._commit.add(conn, room, cid, m.seq, p.encode(p.Acked(room=room, cid=cid, seq=m.seq, time=m.time)),
                             b"")
            return
        self._presence.stop_typing(room, conn.name)
        self._commit.add(conn, room, cid, stored.seq,
                         p.encode(p.Acked(room=room, cid=cid, seq=stored.seq, time=stored.time)),
                         p.encode(posted(stored)))
        fmt, args = "message room=%s seq=%d from=%s", [room, stored.seq, conn.name]
        if reply_to:
            fmt, args = fmt + " reply_to=%d", [*args, reply_to]
        if file is not None:
            fmt, args = fmt + " file=%s size=%d", [*args, file.name, file.size]
        if self._shared.config.log_text and text:
            fmt, args = fmt + " text=%s", [*args, chatlog.quote(text)]
        chatlog.line(fmt, *args)

    def _post_to_cluster(self, cluster: Cluster, conn: Connection, room: str, cid: str, text: str,
                         file: StoredFile | None, reply_to: int) -> None:
        """The stream decides its seq; acknowledged when this server's cache applies it."""
        assert conn.name is not None
        known = self._shared.store.find_by_cid(room, conn.name, cid)
        if known is not None:  # a resend after a reconnect: ack again, post nothing
            conn.send(p.encode(p.Acked(room=room, cid=cid, seq=known.seq, time=known.time)))
            return
        cluster.post(conn, room, cid, text, file, reply_to=reply_to)
        self._presence.stop_typing(room, conn.name)

    def history(self, conn: Connection, msg: p.GetHistory) -> None:
        room = self._shared.joined_room(conn, msg.room)
        messages, more = self._shared.store.history(room, after=msg.after, before=msg.before, limit=msg.limit)
        page = p.HistoryPage(room=room, messages=[], more=more, rid=msg.rid)
        kept, cut = fit_newest([posted(m) for m in messages], room_for(page))
        conn.send(p.encode(p.HistoryPage(room=room, messages=kept, more=more or cut, rid=msg.rid)))

    def search(self, conn: Connection, msg: p.Search) -> None:
        room = self._shared.joined_room(conn, msg.room)
        hits = self._shared.store.search(room, msg.query, msg.limit)
        reply = p.SearchHits(room=room, query=msg.query, hits=[], rid=msg.rid)
        kept, cut = fit_first([posted(m) for m in hits], room_for(reply))
        conn.send(p.encode(p.SearchHits(room=room, query=msg.query, hits=kept, rid=msg.rid, more=cut)))

    def react(self, conn: Connection, msg: p.React) -> None:
        assert conn.name is not None
        shared = self._shared
        store = shared.store
        room = shared.member_room(conn, msg.room)
        if not store.message_exists(room, msg.seq):
            raise Refused(ErrorCode.UNKNOWN_MESSAGE, f"there is no message {msg.seq} in {room!r}")
        counts = store.reaction_counts(room, msg.seq)
        if msg.on:
            self._check_reaction(msg, counts)
        if self._cluster is not None:  # set (and shown) on every server when the stream brings it
            from .cluster.wire import Reaction
            self._cluster.check_up("reaction")
            self._cluster.publish_entry(room, Reaction(room=room, seq=msg.seq, emoji=msg.emoji, name=conn.name,
                                                       on=msg.on))
            return
        if store.set_reaction(room, msg.seq, msg.emoji, conn.name, msg.on):
            count = counts.get(msg.emoji, 0) + (1 if msg.on else -1)
            shared.bus.publish(room, p.encode(p.Reacted(room=room, seq=msg.seq, emoji=msg.emoji,
                                                        name=conn.name, on=msg.on, count=count)))
            chatlog.line("reaction room=%s seq=%d from=%s emoji=%s %s", room, msg.seq, conn.name,
                         msg.emoji, "add" if msg.on else "remove")

    def _check_reaction(self, msg: p.React, counts: dict[str, int]) -> None:
        """One real emoji, and room for it on the message (removing one is always allowed)."""
        if not emoji.is_emoji(msg.emoji):
            raise Refused(ErrorCode.BAD_EMOJI, f"a reaction is one emoji; {msg.emoji!r} is not one")
        if msg.emoji not in counts and len(counts) >= L.MAX_REACTION_KINDS:
            raise Refused(ErrorCode.REACTION_LIMIT, f"message {msg.seq} has {len(counts)} different "
                          f"reactions, the most it may have; add one of those instead")
        limit = self._shared.config.max_reactions
        if limit and sum(counts.values()) >= limit:
            raise Refused(ErrorCode.REACTION_LIMIT, f"message {msg.seq} has {limit} reactions, the most "
                          "it may have")
