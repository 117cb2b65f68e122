"""The direct-conversation and edit parts of the history store.

Invariants:
- A direct conversation is a room named `@` + 24 hex of the SHA-256 of its two identities
  (sorted), so the same two people always get the same one; `directs` says who they are.
  Its room is never listed, counted or readable by others (see rooms, files, identities).
- An edit or delete changes the stored message in place and gives it the room's next
  change number: a client that was away asks for the changes after the last it holds.
- A deleted message keeps its seq and sender; its text, file and search entry are gone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .messages import Messages
from .records import SELECT_MESSAGE, StoredMessage, message_from_row, searchable, with_quotes

__all__ = ["Conversations", "Direct", "direct_room"]


@dataclass(frozen=True, slots=True)
class Direct:
    room: str
    peer: str  # the other member's name, as it was when the conversation was opened
    peer_uid: str


def direct_room(uid_a: str, uid_b: str) -> str:
    pair = " ".join(sorted((uid_a, uid_b)))
    return "@" + hashlib.sha256(pair.encode()).hexdigest()[:24]


class Conversations(Messages):
    # ------------------------------------------------------------ direct conversations

    def open_direct(self, uid: str, name: str, peer_uid: str, peer: str) -> tuple[str, bool]:
        """The room of `uid`'s conversation with `peer_uid` (made now if new: True), both of
        them members."""
        room = direct_room(uid, peer_uid)
        cur = self._db.execute("INSERT OR IGNORE INTO directs (room, uid_a, name_a, uid_b, name_b)"
                               " VALUES (?, ?, ?, ?, ?)", (room, uid, name, peer_uid, peer))
        if cur.rowcount != 1:
            return room, False
        self._db.execute("INSERT OR IGNORE INTO rooms (name, created) VALUES (?, ?)", (room, self._clock()))
        self._seqs.setdefault(room, 0)
        for member, member_uid in ((name, uid), (peer, peer_uid)):
            self._db.execute("INSERT OR IGNORE INTO members (room, name, joined, uid, joined_seq)"
                             " VALUES (?, ?, ?, ?, 0)", (room, member, self._clock(), member_uid))
        return room, True

    def direct_pair(self, room: str) -> tuple[str, str] | None:
        """The two identities of a direct conversation's room (None: not one)."""
        row = self._db.execute("SELECT uid_a, uid_b FROM directs WHERE room = ?", (room,)).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def direct_members(self, room: str) -> list[tuple[str, str]]:
        """A direct conversation's two members as (uid, name) ([] : not one)."""
        row = self._db.execute("SELECT uid_a, name_a, uid_b, name_b FROM directs WHERE room = ?", (room,)).fetchone()
        return [(str(row[0]), str(row[1])), (str(row[2]), str(row[3]))] if row else []

    def directs_of(self, uid: str, limit: int = -1) -> list[Direct]:
        return [Direct(str(r), str(n), str(u)) for r, n, u in self._db.execute(
            "SELECT room, name_b, uid_b FROM directs WHERE uid_a = ?"
            " UNION ALL SELECT room, name_a, uid_a FROM directs WHERE uid_b = ? LIMIT ?",
            (uid, uid, limit))]

    # ------------------------------------------------------------ edits and deletes

    def last_change(self, room: str) -> int:
        row = self._db.execute("SELECT max(change) FROM messages WHERE room = ? AND change > 0",
                               (room,)).fetchone()
        return int(row[0] or 0)

    def change_message(self, room: str, seq: int, text: str | None, *, now: float | None = None) -> StoredMessage:
        """Edit message `seq` to `text`, or delete it (None), at `now` (default: the clock's);
        in the open transaction. The caller checked it exists and whose it is. Returns it as
        stored now."""
        old = self.message(room, seq)
        assert old is not None
        change = self.last_change(room) + 1
        now = self._clock() if now is None else now
        self._unindex(room, seq, searchable(old.text, old.file.name if old.file else None))
        if text is None:
            self._db.execute("UPDATE messages SET text = '', file_id = NULL, deleted = 1, edited = ?,"
                             " change = ? WHERE room = ? AND seq = ?", (now, change, room, seq))
        else:
            self._db.execute("UPDATE messages SET text = ?, edited = ?, change = ? WHERE room = ? AND seq = ?",
                             (text, now, change, room, seq))
            words = searchable(text, old.file.name if old.file else None)
            if words:
                self._fts.append((words, room, seq))
        new = self.message(room, seq)
        assert new is not None
        return new

    def changes(self, room: str, after: int, upto_seq: int, limit: int) -> list[StoredMessage]:
        """Messages with seq <= `upto_seq` changed after change number `after`, oldest change first."""
        rows = self._db.execute(SELECT_MESSAGE + " WHERE m.room = ? AND m.change > ? AND m.seq <= ?"
                                " ORDER BY m.change LIMIT ?", (room, after, upto_seq, limit)).fetchall()
        return with_quotes(self._db, room, [message_from_row(r) for r in rows])

    def _unindex(self, room: str, seq: int, words: str) -> None:
        """Take the message's words out of the search index (and of what waits for it)."""
        for pending in (self._fts, self._fts_ready):
            pending[:] = [r for r in pending if (r[1], r[2]) != (room, seq)]
        match = " ".join('"' + w.replace('"', '""') + '"' for w in words.split())
        if match:  # by rowid among the rows the old words find: no scan of the whole index
            self._db.execute("DELETE FROM messages_fts WHERE rowid IN (SELECT rowid FROM messages_fts"
                             " WHERE messages_fts MATCH ? AND room = ? AND seq = ?)", (match, room, seq))
