"""The store's connection, its group commit, and what it writes behind the commits.

Invariants:
- One transaction at a time, on one connection: `begin()` opens it, `commit()` ends it and
  raises StoreError (DiskFull for a full disk) when it could not be stored; `rollback()`
  then forgets it, and all that is held in memory for it.
- Some writes wait in memory for the next `write_marks`/`index_pending` (the server calls
  both twice a second, readers first): each sender's receipts for its own message, the
  rooms' last seq, and the search index rows. Each exists in three states: of the open
  transaction, committed but not written, written inside the open transaction. A rollback
  moves the last back to "not written", so nothing is lost or written twice.
- `_seqs` (room -> last seq) is the one source of a room's last seq while running; the
  stored one may lag after a crash, and a start recovers it from the messages.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from .errors import DiskFull, StoreError, disk_full
from .records import searchable

__all__ = ["GroupCommit"]

#: (room, name) -> seq, a member's receipts ("up to seq")
_Marks = dict[tuple[str, str], int]


class GroupCommit:
    """The base every part of `Store` shares: its connection and transactions."""

    def __init__(self, db: sqlite3.Connection, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock
        self._group = False  # begin() opened the transaction that commit() ends
        self._void: StoreError | None = None  # why SQLite cancelled that transaction itself
        # Search index rows: of the open transaction, committed but not yet indexed, and
        # indexed inside the open transaction (see index_pending).
        self._fts: list[tuple[str, str, int]] = []
        self._fts_ready: list[tuple[str, str, int]] = []
        self._fts_writing: list[tuple[str, str, int]] = []
        # Two things every message moves are kept in memory and written twice a second
        # and before anyone reads them, not in each commit (they were half of a commit's
        # page writes, so of the wait for ✓): each sender's receipts for its own message
        # (of the open transaction; committed, not yet written; written inside the open
        # transaction) and the rooms' last seq, which a start recovers from the messages.
        self._own: _Marks = {}
        self._own_ready: _Marks = {}
        self._own_writing: _Marks = {}
        self._seqs = self._load_seqs()  # room -> last seq, the one source while running
        db.executemany("UPDATE rooms SET last_seq = ? WHERE name = ? AND last_seq < ?",
                       [(seq, room, seq) for room, seq in self._seqs.items()])
        self._seqs_behind: set[str] = set()  # rooms whose stored last_seq is behind
        self._catch_up_index()

    def last_seq(self, room: str) -> int:
        return self._seqs.get(room, 0)

    def begin(self) -> None:
        """Open a transaction that following writes join, until `commit()` (group commit:
        one commit for everything one event-loop iteration wrote)."""
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
            self._group, self._void = True, None

    def commit(self) -> None:
        """Raises StoreError (DiskFull when the disk is full) when the transaction could not be
        committed: then nothing of it is stored, and `rollback()` ends it."""
        if self._db.in_transaction:
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._failure(exc, "the transaction") from exc
        elif self._group:
            # After some errors (a full disk among them) SQLite cancels the whole transaction.
            self._group = False
            raise self._void or StoreError("the transaction was cancelled; nothing of it was stored")
        self._group = False
        _merge_marks(self._own_ready, self._own)
        self._own.clear()
        self._own_writing.clear()
        self._fts_ready += self._fts
        self._fts.clear()
        self._fts_writing.clear()

    def rollback(self) -> None:
        self._group = False
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._fts.clear()
        self._fts_ready[:0] = self._fts_writing  # they were not indexed after all
        self._fts_writing.clear()
        self._own.clear()
        _merge_marks(self._own_ready, self._own_writing)  # they were not written after all
        self._own_writing.clear()
        self._seqs = self._load_seqs()
        self._seqs_behind = set(self._seqs)

    def _failure(self, exc: sqlite3.Error, what: str) -> StoreError:
        """A failed write as the store reports it; remembered when SQLite cancelled the open
        group transaction with it (see `commit`)."""
        if disk_full(exc):
            err: StoreError = DiskFull(f"the server's disk is full; {what} was not stored")
        else:
            err = StoreError(f"the history database failed ({exc}); {what} was not stored")
        if self._group and not self._db.in_transaction:
            self._void = err
        return err

    def index_pending(self) -> int:
        """Add committed messages to the search index; returns how many. Kept out of the
        message commits (it was two thirds of each commit's time, so of the wait for ✓):
        the server calls this twice a second, and `search` first. Inside an open
        transaction the rows join it."""
        if not self._fts_ready:
            return 0
        rows, self._fts_ready = self._fts_ready, []
        db = self._db
        own = not db.in_transaction
        if own:
            db.execute("BEGIN IMMEDIATE")
        try:
            self._index(rows)
            if own:
                db.execute("COMMIT")
            else:
                self._fts_writing += rows
        except BaseException as exc:
            if own and db.in_transaction:  # a failed COMMIT may have ended it (a full disk)
                db.execute("ROLLBACK")
            self._fts_ready[:0] = rows
            if isinstance(exc, sqlite3.Error):
                raise self._failure(exc, "an update of the search index") from exc
            raise
        return len(rows)

    def _index(self, rows: list[tuple[str, str, int]]) -> None:
        """Index rows (text, room, seq) and move each room's watermark past them."""
        self._db.executemany("INSERT INTO messages_fts (text, room, seq) VALUES (?, ?, ?)", rows)
        top: dict[str, int] = {}
        for _, room, seq in rows:
            top[room] = max(seq, top.get(room, 0))
        self._db.executemany("UPDATE rooms SET indexed = max(indexed, ?) WHERE name = ?",
                             [(seq, room) for room, seq in top.items()])

    def _catch_up_index(self) -> None:
        """At start: index what was committed but not indexed when the last run ended (a crash)."""
        behind = self._db.execute("SELECT name, indexed FROM rooms WHERE indexed < last_seq").fetchall()
        if not behind:
            return
        rows = []
        for room, indexed in behind:
            for seq, text, name in self._db.execute(
                    "SELECT m.seq, m.text, f.name FROM messages m LEFT JOIN files f ON f.id = m.file_id"
                    " WHERE m.room = ? AND m.seq > ? ORDER BY m.seq", (room, indexed)):
                words = searchable(text, name)
                if words:
                    rows.append((words, room, seq))
        self._db.execute("BEGIN IMMEDIATE")
        self._index(rows)
        self._db.execute("UPDATE rooms SET indexed = last_seq")
        self._db.execute("COMMIT")

    def _load_seqs(self) -> dict[str, int]:
        # The stored last_seq may lag after a crash (see write_marks); the messages do not.
        return {r: int(s) for r, s in self._db.execute(
            "SELECT r.name, max(r.last_seq, coalesce((SELECT max(m.seq) FROM messages m"
            " WHERE m.room = r.name), 0)) FROM rooms r")}

    def write_marks(self) -> None:
        """Write the senders' own receipts and the rooms' last seq kept in memory since the
        last call (the server's housekeeping calls this twice a second; readers of receipts
        call it first). Inside an open transaction the writes join it."""
        if not (self._own_ready or self._own or self._seqs_behind):
            return  # the common case: every receipt a client sends passes here
        marks = dict(self._own_ready)
        _merge_marks(marks, self._own)
        db = self._db
        own = not db.in_transaction
        if own:
            db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("UPDATE rooms SET last_seq = max(last_seq, ?) WHERE name = ?",
                           [(self._seqs[r], r) for r in self._seqs_behind if r in self._seqs])
            db.executemany(
                "UPDATE members SET delivered = max(delivered, ?), read = max(read, ?)"
                " WHERE room = ? AND name = ?",
                [(seq, seq, room, name) for (room, name), seq in marks.items()])
            if own:
                db.execute("COMMIT")
        except BaseException as exc:
            if own and db.in_transaction:  # a failed COMMIT may have ended it (a full disk)
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._failure(exc, "an update of receipts") from exc
            raise
        if not own:
            _merge_marks(self._own_writing, self._own_ready)
        self._own_ready.clear()
        self._own.clear()
        self._seqs_behind.clear()


def _merge_marks(into: _Marks, marks: _Marks) -> None:
    for key, seq in marks.items():
        if seq > into.get(key, 0):
            into[key] = seq
