"""The messages part of the history store: posting, history pages, search.

Invariants:
- `seq` is per room, starts at 1 and has no gaps: it is assigned here, in the same
  transaction that stores the message, so an acknowledged seq is always in the table.
- (room, sender, cid) is unique: a message resent after a reconnect is stored once.
- History comes in pages (`limit`), each message with bounded reactions (see reactions).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from .errors import StoreError
from .groupcommit import GroupCommit
from .reactions import with_reactions
from .records import (
    SELECT_MESSAGE,
    Duplicate,
    StoredFile,
    StoredMessage,
    message_from_row,
    quote_of,
    searchable,
    with_quotes,
)

__all__ = ["Messages"]


class Messages(GroupCommit):
    def append(
        self, room: str, sender: str, text: str, cid: str = "", file: StoredFile | None = None,
        *, uid: str = "", reply_to: int = 0,
    ) -> StoredMessage:
        """Store a message and give it the room's next seq. Inside `begin()`..`commit()` it
        joins that transaction; otherwise it commits by itself. Raises `Duplicate` (with the
        stored message) when (sender, cid) is already stored; a failure writes nothing."""
        last = self._seqs.get(room)
        if last is None:
            raise StoreError(f"no room named {room!r}")
        return self._insert(room, last + 1, sender, self._clock(), text, cid, file, uid=uid, reply_to=reply_to)

    def apply(self, m: StoredMessage) -> StoredMessage | None:
        """Store a message whose seq and time were decided elsewhere (a cluster's stream);
        None when the room already holds that seq (a replay). Raises `Duplicate` as `append`."""
        last = self._seqs.get(m.room)
        if last is None:  # a room whose creation this cache missed: made with its first message
            self._db.execute("INSERT OR IGNORE INTO rooms (name, created) VALUES (?, ?)", (m.room, m.time))
            self._seqs[m.room] = last = 0
        if m.seq <= last:
            return None
        return self._insert(m.room, m.seq, m.sender, m.time, m.text, m.cid, m.file, uid=m.uid, reply_to=m.reply_to)

    def _insert(self, room: str, seq: int, sender: str, now: float, text: str, cid: str,
                file: StoredFile | None, *, uid: str = "", reply_to: int = 0) -> StoredMessage:
        db = self._db
        own = not db.in_transaction
        if own:
            db.execute("BEGIN IMMEDIATE")
        try:
            file_id = None
            if file is not None:
                file_id = db.execute(
                    "INSERT INTO files (blob_id, name, size, mime, thumb_id, width, height)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (file.blob_id, file.name, file.size, file.mime, file.thumb_id,
                     file.width, file.height),
                ).lastrowid
            try:
                # The first write of a text message: if it fails, nothing was written.
                db.execute(
                    "INSERT INTO messages (room, seq, sender, time, text, cid, file_id, uid, reply_to)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (room, seq, sender, now, text, cid, file_id, uid, reply_to),
                )
            except sqlite3.IntegrityError:
                if file_id is not None:
                    db.execute("DELETE FROM files WHERE id = ?", (file_id,))
                stored = self.find_by_cid(room, sender, cid)
                if stored is None:
                    raise
                raise Duplicate(stored) from None
            self._seqs[room] = seq
            self._seqs_behind.add(room)
            # The sender has its own message: its receipts move with it, no frame needed.
            self._own[(room, sender)] = seq
            words = searchable(text, file.name if file else None)
            if words:
                self._fts.append((words, room, seq))
            if own:
                self.commit()
        except BaseException as exc:
            if own:
                self.rollback()
            if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
                raise self._failure(exc, "this message") from exc
            raise
        if reply_to:
            found = self.message(room, reply_to)
            if found is not None:
                return StoredMessage(room, seq, sender, now, text, cid, file, uid=uid, reply_to=reply_to,
                                     quote="" if found.deleted else quote_of(found.text, found.file.name if found.file else None),
                                     quote_sender=found.sender)
        return StoredMessage(room, seq, sender, now, text, cid, file, uid=uid, reply_to=reply_to)

    def message(self, room: str, seq: int) -> StoredMessage | None:
        """One message (without its reactions), or None."""
        row = self._db.execute(SELECT_MESSAGE + " WHERE m.room = ? AND m.seq = ?", (room, seq)).fetchone()
        return with_quotes(self._db, room, [message_from_row(row)])[0] if row else None

    def bulk_append(self, room: str, rows: Iterable[tuple[str, str]]) -> int:
        """Append many (sender, text) rows in one transaction (benchmarks, imports)."""
        db = self._db
        db.execute("BEGIN")
        seq = self.last_seq(room)
        now = self._clock()
        batch = []
        for sender, text in rows:
            seq += 1
            batch.append((room, seq, sender, now, text))
        db.executemany(
            "INSERT INTO messages (room, seq, sender, time, text) VALUES (?, ?, ?, ?, ?)", batch
        )
        db.executemany(
            "INSERT INTO messages_fts (text, room, seq) VALUES (?, ?, ?)",
            ((t, r, s) for r, s, _, _, t in batch),
        )
        db.execute("UPDATE rooms SET last_seq = ?, indexed = ? WHERE name = ?", (seq, seq, room))
        db.execute("COMMIT")
        self._seqs[room] = seq
        return seq

    def find_by_cid(self, room: str, sender: str, cid: str) -> StoredMessage | None:
        if not cid:
            return None
        # `cid != ''` lets SQLite use the partial unique index (else: a scan of the room).
        row = self._db.execute(
            SELECT_MESSAGE + " WHERE m.room = ? AND m.sender = ? AND m.cid = ? AND m.cid != ''",
            (room, sender, cid),
        ).fetchone()
        return message_from_row(row) if row else None

    def find_copy(self, room: str, seq: int, sender: str, time: float) -> int | None:
        """The seq this store holds the message `sender` posted at `time` under: `seq` first
        (the same numbering), else wherever a merge put it."""
        for sql, args in (("SELECT seq FROM messages WHERE room = ? AND seq = ? AND sender = ? AND time = ?",
                           (room, seq, sender, time)),
                          ("SELECT seq FROM messages WHERE room = ? AND sender = ? AND time = ? LIMIT 1",
                           (room, sender, time))):
            row = self._db.execute(sql, args).fetchone()
            if row is not None:
                return int(row[0])
        return None

    def message_exists(self, room: str, seq: int) -> bool:
        return (
            self._db.execute(
                "SELECT 1 FROM messages WHERE room = ? AND seq = ?", (room, seq)
            ).fetchone()
            is not None
        )

    def history(
        self, room: str, *, after: int = 0, before: int | None = None, limit: int = 100
    ) -> tuple[list[StoredMessage], bool]:
        """The newest `limit` messages with after < seq < before, oldest first, and whether
        older ones (still > after) exist."""
        upper = before if before is not None else 2**62
        rows = self._db.execute(
            SELECT_MESSAGE + " WHERE m.room = ? AND m.seq > ? AND m.seq < ?"
            " ORDER BY m.seq DESC LIMIT ?",
            (room, after, upper, limit + 1),
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        rows.reverse()
        return with_quotes(self._db, room, with_reactions(self._db, room, [message_from_row(r) for r in rows])), more

    def search(self, room: str, query: str, limit: int = 50) -> list[StoredMessage]:
        """Full-text search in one room; words are matched as prefixes, newest first."""
        match = " ".join('"' + w.replace('"', '""') + '"*' for w in query.split())
        if not match:
            return []
        self.index_pending()  # what was just said is found too
        try:
            seqs = [
                s
                for (s,) in self._db.execute(
                    "SELECT seq FROM messages_fts WHERE messages_fts MATCH ? AND room = ?"
                    " ORDER BY seq DESC LIMIT ?",
                    (match, room, limit),
                )
            ]
        except sqlite3.OperationalError as exc:
            raise StoreError(f"search failed: {exc}") from exc
        if not seqs:
            return []
        marks = ",".join("?" * len(seqs))
        rows = self._db.execute(
            SELECT_MESSAGE + f" WHERE m.room = ? AND m.seq IN ({marks}) AND m.deleted = 0 ORDER BY m.seq DESC",
            (room, *seqs),
        ).fetchall()
        return with_quotes(self._db, room, with_reactions(self._db, room, [message_from_row(r) for r in rows]))
