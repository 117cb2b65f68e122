"""Messages stored as another host numbered them: a peer's replica of the chat, and a new
host collecting what it lacks from the peers.

Invariants:
- A copy keeps the seq, sender, time and cid its host gave it; (room, seq) is stored once:
  a copy of a seq already held changes nothing (same seq, same message on every replica)
  but a newer edit or a delete of it, which a copy carries on as its host stored it.
- A room a copy names is made if missing; its last seq only ever grows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .groupcommit import GroupCommit
from .records import StoredMessage, searchable

__all__ = ["Copies"]


class Copies(GroupCommit):
    change_message: Callable[..., StoredMessage]  # Conversations', beside it in the Store

    def put_copy(self, m: StoredMessage, *, replace: bool = False) -> bool:
        """Store `m` under its own seq; False when that seq (or its sender's cid) is held.
        `replace` (a replica, where the host's word wins): another message held under that
        seq, or this one held under another seq (a merge renumbered it), is dropped first."""
        db = self._db
        with self._write("a copy of a message"):
            if m.room not in self._seqs:
                db.execute("INSERT OR IGNORE INTO rooms (name, created) VALUES (?, ?)", (m.room, m.time))
                self._seqs[m.room] = 0
            if replace:
                self._drop_other(m)
            held = db.execute("SELECT edited, deleted FROM messages WHERE room = ? AND seq = ?",
                              (m.room, m.seq)).fetchone()
            if held is not None:
                stored = False
                if m.deleted > bool(held[1]) or (not held[1] and m.edited > held[0]):
                    # A newer word on a message held (edited or deleted since): a deleted one
                    # must not come back with the copy that did not know it.
                    self.change_message(m.room, m.seq, None if m.deleted else m.text, now=m.edited)
            else:
                file_id = None
                if m.file is not None:
                    f = m.file
                    file_id = db.execute(
                        "INSERT INTO files (blob_id, name, size, mime, thumb_id, width, height)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (f.blob_id, f.name, f.size, f.mime, f.thumb_id, f.width, f.height)).lastrowid
                try:
                    db.execute("INSERT INTO messages (room, seq, sender, time, text, cid, file_id, uid, reply_to,"
                               " edited, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               (m.room, m.seq, m.sender, m.time, m.text, m.cid, file_id, m.uid, m.reply_to,
                                m.edited, int(m.deleted)))
                    stored = True
                except sqlite3.IntegrityError:  # its (sender, cid) is held under another seq
                    if file_id is not None:
                        db.execute("DELETE FROM files WHERE id = ?", (file_id,))
                    stored = False
            if stored:
                if m.seq > self._seqs[m.room]:
                    self._seqs[m.room] = m.seq
                    self._seqs_behind.add(m.room)
                words = searchable(m.text, m.file.name if m.file else None)
                if words:
                    self._fts.append((words, m.room, m.seq))
        return stored

    @contextmanager
    def _write(self, what: str) -> Iterator[None]:
        """Joins the open group transaction, else is one of its own, committed at the end;
        a failure rolls back only a transaction of its own and says what was not stored."""
        own = not self._db.in_transaction
        if own:
            self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            if own:
                self.commit()
        except BaseException as exc:
            if own:
                self.rollback()
            if isinstance(exc, sqlite3.Error):
                raise self._failure(exc, what) from exc
            raise

    def _drop_other(self, m: StoredMessage) -> None:
        db = self._db
        row = db.execute("SELECT sender, time, text, cid FROM messages WHERE room = ? AND seq = ?",
                         (m.room, m.seq)).fetchone()
        if row is not None and (row[0], row[3]) != (m.sender, m.cid) and (row[0], row[1], row[2]) != (
                m.sender, m.time, m.text):
            self._drop_at(m.room, m.seq)
        if m.cid:
            moved = db.execute("SELECT seq FROM messages WHERE room = ? AND sender = ? AND cid = ? AND cid != ''"
                               " AND seq != ?", (m.room, m.sender, m.cid, m.seq)).fetchone()
            if moved is not None:
                self._drop_at(m.room, int(moved[0]))

    def _drop_at(self, room: str, seq: int) -> None:
        db = self._db
        db.execute("DELETE FROM reactions WHERE room = ? AND seq = ?", (room, seq))
        db.execute("DELETE FROM messages_fts WHERE room = ? AND seq = ?", (room, seq))
        db.execute("DELETE FROM messages WHERE room = ? AND seq = ?", (room, seq))

    def drop_after(self, room: str, seq: int) -> int:
        """A replica rebased on another host's numbering: forget what it held after `seq`
        (the host's history after it is fetched again). Returns how many were dropped."""
        db = self._db
        with self._write("a rebase of the copy"):
            n = db.execute("SELECT count(*) FROM messages WHERE room = ? AND seq > ?", (room, seq)).fetchone()[0]
            db.execute("DELETE FROM reactions WHERE room = ? AND seq > ?", (room, seq))
            db.execute("DELETE FROM messages_fts WHERE room = ? AND seq > ?", (room, seq))
            db.execute("DELETE FROM messages WHERE room = ? AND seq > ?", (room, seq))
            if room in self._seqs and self._seqs[room] > seq:
                self._seqs[room] = seq
                db.execute("UPDATE rooms SET last_seq = ? WHERE name = ?", (seq, room))
        return int(n)

    def held_seqs(self, room: str, after: int = 0) -> list[int]:
        """The seqs held in `room` after `after`, in order (what a gap check compares)."""
        return [int(s) for (s,) in self._db.execute(
            "SELECT seq FROM messages WHERE room = ? AND seq > ? ORDER BY seq", (room, after))]



