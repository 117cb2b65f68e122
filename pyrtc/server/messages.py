"""Posting and reading back: text and file posts, history pages, search, reactions.

Invariants:
- A post is stored in the loop iteration's transaction and acknowledged only once that
  committed (`GroupCommit`); a resend of a stored cid is acknowledged again, posted never.
- Each post goes to the `pyrtc.chat` logger, its text escaped (or left out, --no-log-text).
"""

from __future__ import annotations

from .. import protocol as p
from ..protocol.codes import ErrorCode
from ..store import Duplicate, StoredFile, StoredMessage
from . import chatlog
from .chatlog import escape_log
from .commit import GroupCommit
from .connection import Connection
from .errors import Refused
from .presence import Presence
from .shared import Shared

__all__ = ["Messages", "posted"]


def posted(m: StoredMessage) -> p.Posted:
    """A stored message as it goes on the wire."""
    file = None
    if m.file is not None:
        f = m.file
        file = p.FileInfo(blob_id=f.blob_id, name=f.name, size=f.size, mime=f.mime,
                          thumb_id=f.thumb_id, width=f.width, height=f.height)
    return p.Posted(room=m.room, seq=m.seq, sender=m.sender, time=m.time, text=m.text, file=file,
                    cid=m.cid, reactions=[p.Reaction(emoji=e, members=n) for e, n in m.reactions.items()])


class Messages:
    def __init__(self, shared: Shared, commit: GroupCommit, presence: Presence) -> None:
        self._shared = shared
        self._commit = commit
        self._presence = presence

    def send_text(self, conn: Connection, msg: p.SendText) -> None:
        room = self._shared.member_room(conn, msg.room)
        self.post(conn, room, msg.cid, msg.text, None)

    def post(self, conn: Connection, room: str, cid: str, text: str, file: StoredFile | None) -> None:
        """Store a post by `conn` in `room` (a member's: checked by the caller) and send it."""
        assert conn.name is not None
        self._commit.begin()
        try:
            stored = self._shared.store.append(room, conn.name, text, cid, file)
        except Duplicate as dup:  # a resend after a reconnect: ack again, post nothing
            m = dup.message
            self._commit.add(conn, p.encode(p.Acked(room=room, cid=cid, seq=m.seq, time=m.time)), room, b"")
            return
        self._presence.stop_typing(room, conn.name)
        self._commit.add(conn, p.encode(p.Acked(room=room, cid=cid, seq=stored.seq, time=stored.time)),
                         room, p.encode(posted(stored)))
        log_text = self._shared.config.log_text
        if log_text or file is not None:
            what = f"file={escape_log(file.name)} size={file.size}" if file else ""
            chatlog.line("message room=%s seq=%d from=%s %s%s", room, stored.seq, conn.name, what,
                         f'text="{escape_log(text)}"' if log_text and text else "")
        else:
            chatlog.line("message room=%s seq=%d from=%s", room, stored.seq, conn.name)

    def history(self, conn: Connection, msg: p.GetHistory) -> None:
        room = self._shared.joined_room(conn, msg.room)
        messages, more = self._shared.store.history(room, after=msg.after, before=msg.before, limit=msg.limit)
        conn.send(p.encode(p.HistoryPage(room=room, messages=[posted(m) for m in messages],
                                         more=more, rid=msg.rid)))

    def search(self, conn: Connection, msg: p.Search) -> None:
        room = self._shared.joined_room(conn, msg.room)
        hits = self._shared.store.search(room, msg.query, msg.limit)
        conn.send(p.encode(p.SearchHits(room=room, query=msg.query,
                                        hits=[posted(m) for m in hits], rid=msg.rid)))

    def react(self, conn: Connection, msg: p.React) -> None:
        assert conn.name is not None
        shared = self._shared
        room = shared.member_room(conn, msg.room)
        if not shared.store.message_exists(room, msg.seq):
            raise Refused(ErrorCode.UNKNOWN_MESSAGE, f"there is no message {msg.seq} in {room!r}")
        if shared.store.set_reaction(room, msg.seq, msg.emoji, conn.name, msg.on):
            shared.bus.publish(room, p.encode(p.Reacted(room=room, seq=msg.seq, emoji=msg.emoji,
                                                        name=conn.name, on=msg.on)))
            chatlog.line("reaction room=%s seq=%d from=%s emoji=%s %s", room, msg.seq, conn.name,
                         escape_log(msg.emoji), "add" if msg.on else "remove")
