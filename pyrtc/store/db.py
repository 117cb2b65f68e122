"""Chat history in SQLite (WAL).

The connection belongs to one thread (the server's event loop); only the checkpointer
thread has a connection of its own.

Invariants:
- `seq` is per room, starts at 1 and has no gaps: it is assigned here, in the same
  transaction that stores the message, so an acknowledged seq is always in the table.
- (room, sender, cid) is unique: a message resent after a reconnect is stored once.
- Receipts only move forward (delivered/read are "up to seq").
- A file name is display text only; file bodies live in `BlobStore`, keyed by their BLAKE3
  (pyrtc.blob_id).
- What is read back for the wire is bounded whatever is stored: rooms come in pages, and a
  message brings at most MAX_REACTION_KINDS emoji with MAX_REACTION_NAMES names each (and
  the counts), so data stored before a limit existed cannot make a frame too big.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..private import open_private, private_dir, private_file
from ..protocol.limits import MAX_REACTION_KINDS, MAX_REACTION_NAMES
from . import identities
from .errors import DiskFull, StoreError, disk_full
from .identities import NameBook

__all__ = ["Store", "StoredMessage", "StoredFile", "Member", "DEFAULT_ROOMS", "Duplicate"]

DEFAULT_ROOMS = ("General", "Gaming", "Study")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
    room TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sender TEXT NOT NULL,
    time REAL NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    cid TEXT NOT NULL DEFAULT '',
    file_id TEXT,
    PRIMARY KEY (room, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS messages_cid ON messages (room, sender, cid) WHERE cid != '';
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    blob_id TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mime TEXT NOT NULL,
    thumb_id TEXT,
    width INTEGER NOT NULL DEFAULT 0,
    height INTEGER NOT NULL DEFAULT 0
);
-- Who may read a body: the messages that post it (see file_readable).
CREATE INDEX IF NOT EXISTS files_blob ON files (blob_id);
CREATE INDEX IF NOT EXISTS files_thumb ON files (thumb_id) WHERE thumb_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_file ON messages (file_id) WHERE file_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS members (
    room TEXT NOT NULL,
    name TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    read INTEGER NOT NULL DEFAULT 0,
    joined REAL NOT NULL,
    joined_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_name ON members (name);
CREATE TABLE IF NOT EXISTS reactions (
    room TEXT NOT NULL,
    seq INTEGER NOT NULL,
    emoji TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (room, seq, emoji, name)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5 (
    text, room UNINDEXED, seq UNINDEXED, tokenize = 'unicode61'
);
"""


@dataclass(frozen=True, slots=True)
class StoredFile:
    blob_id: str
    name: str
    size: int
    mime: str
    thumb_id: str | None = None
    width: int = 0
    height: int = 0


@dataclass(frozen=True, slots=True)
class StoredMessage:
    room: str
    seq: int
    sender: str
    time: float
    text: str
    cid: str = ""
    file: StoredFile | None = None
    #: emoji -> some of the names (MAX_REACTION_NAMES), for the most used MAX_REACTION_KINDS
    reactions: dict[str, list[str]] = field(default_factory=dict)
    reaction_counts: dict[str, int] = field(default_factory=dict)  # emoji -> all the names


class Duplicate(StoreError):
    """(sender, cid) is stored already: a resend. `message` is the stored one."""

    def __init__(self, message: StoredMessage) -> None:
        super().__init__(f"message {message.cid!r} is stored already as seq {message.seq}")
        self.message = message


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    delivered: int
    read: int
    joined_seq: int = 0  # the room's last seq when it joined: it counts for later messages


class Store:
    """One SQLite database. Not thread-safe: owned by the server's event loop thread."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        try:
            private_dir(path.parent)
            # Made 0600 before SQLite opens it: its -wal and -shm files take the database's mode.
            os.close(open_private(path, os.O_WRONLY | os.O_CREAT))
            for journal in ("-wal", "-shm"):  # from a version before this one
                private_file(path.with_name(path.name + journal))
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL: a commit survives a process crash (kill -9); only an OS crash
            # or power loss can lose the last transactions.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            # Checkpoints (which fsync) run on a background thread, not inside a COMMIT on
            # the event loop: see `_checkpoint_loop`.
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._db.executescript(_SCHEMA + identities.SCHEMA)
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(rooms)")}
            if "password" not in columns:  # added after the first release of the schema
                self._db.execute("ALTER TABLE rooms ADD COLUMN password TEXT NOT NULL DEFAULT ''")
            if "indexed" not in columns:  # ditto; until then every message was indexed at once
                self._db.execute("ALTER TABLE rooms ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0")
                self._db.execute("UPDATE rooms SET indexed = last_seq")
            if "creator" not in columns:  # ditto: who made it, for the rooms-per-hour quota
                self._db.execute("ALTER TABLE rooms ADD COLUMN creator TEXT NOT NULL DEFAULT ''")
                self._db.execute("CREATE INDEX IF NOT EXISTS rooms_creator ON rooms (creator, created)")
            member_columns = {r[1] for r in self._db.execute("PRAGMA table_info(members)")}
            if "uid" not in member_columns:
                # protocol 3: a membership counts only for the identity that joined ('' before:
                # the first identity to bind the name takes them, see NameBook.bind)
                self._db.execute("ALTER TABLE members ADD COLUMN uid TEXT NOT NULL DEFAULT ''")
            if "joined_seq" not in member_columns:  # ditto; 0: counted for every message, as before
                self._db.execute("ALTER TABLE members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0")
            #: Names bound to identities, and quotas per identity (same connection, same transactions).
            self.names = NameBook(self._db, clock)
            for room in DEFAULT_ROOMS:
                self._db.execute(
                    "INSERT OR IGNORE INTO rooms (name, created) VALUES (?, ?)",
                    (room, self._clock()),
                )
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
            self._own: dict[tuple[str, str], int] = {}
            self._own_ready: dict[tuple[str, str], int] = {}
            self._own_writing: dict[tuple[str, str], int] = {}
            self._seqs = self._load_seqs()  # room -> last seq, the one source while running
            self._db.executemany("UPDATE rooms SET last_seq = ? WHERE name = ? AND last_seq < ?",
                                 [(seq, room, seq) for room, seq in self._seqs.items()])
            self._seqs_behind: set[str] = set()  # rooms whose stored last_seq is behind
            self._catch_up_index()
            self._checkpointer: threading.Thread | None = None
            self._stop_checkpoints = threading.Event()
            self._group = False  # begin() opened the transaction that commit() ends
            self._void: StoreError | None = None  # why SQLite cancelled that transaction itself
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the history database {path}: {exc}") from exc

    def start_checkpointer(self, interval: float = 1.0) -> None:
        """Copy the WAL into the database from a thread with its own connection. PASSIVE
        never blocks the writer; the fsync it does releases the GIL."""
        if self._checkpointer is not None:
            return
        self._stop_checkpoints.clear()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, args=(interval,),
                                              name="pyrtc-checkpoint", daemon=True)
        self._checkpointer.start()

    def _checkpoint_loop(self, interval: float) -> None:
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            while True:
                stop = self._stop_checkpoints.wait(interval)
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    pass  # busy or the disk full now: the next round (or start) catches up
                if stop:
                    break
        finally:
            db.close()

    def close(self) -> None:
        try:
            self.write_marks()
            self.index_pending()
        except StoreError:
            pass  # a full disk: the search index and the last seqs catch up at the next start
        if self._checkpointer is not None:
            self._stop_checkpoints.set()
            self._checkpointer.join(10)
            self._checkpointer = None
        else:
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass
        self._db.close()

    # ------------------------------------------------------------ rooms

    def rooms(self) -> list[tuple[str, int, int, bool]]:
        """(name, last_seq, member count, has a password) for every room, by name."""
        return self.rooms_page(limit=-1)

    def rooms_page(self, after: str = "", limit: int = 200) -> list[tuple[str, int, int, bool]]:
        """`rooms()`, only those named after `after` (without regard to case), `limit` of them."""
        return [
            (name, self._seqs.get(name, 0), members, bool(locked))
            for name, members, locked in self._db.execute(
                "SELECT r.name, (SELECT count(*) FROM members m WHERE m.room = r.name),"
                " r.password != '' FROM rooms r WHERE r.name > ? COLLATE NOCASE"
                " ORDER BY r.name COLLATE NOCASE LIMIT ?", (after, limit)
            )
        ]

    def room_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM rooms").fetchone()[0])

    def rooms_created(self, creator: str, within: float) -> int:
        """How many rooms `creator` made in the last `within` seconds."""
        row = self._db.execute("SELECT count(*) FROM rooms WHERE creator = ? AND created >= ?",
                               (creator, self._clock() - within)).fetchone()
        return int(row[0])

    def find_room(self, room: str) -> str | None:
        """The stored spelling of a room name, matched without regard to case."""
        row = self._db.execute(
            "SELECT name FROM rooms WHERE name = ? COLLATE NOCASE", (room,)
        ).fetchone()
        return row[0] if row else None

    def room_password(self, room: str) -> str:
        """The room's password hash ('' when it has none)."""
        row = self._db.execute("SELECT password FROM rooms WHERE name = ?", (room,)).fetchone()
        return str(row[0]) if row else ""

    def create_room(self, room: str, password_hash: str = "", creator: str = "") -> bool:
        """True if created, False if it already existed."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO rooms (name, created, password, creator) VALUES (?, ?, ?, ?)",
            (room, self._clock(), password_hash, creator),
        )
        if cur.rowcount == 1:
            self._seqs[room] = 0
        return cur.rowcount == 1

    def last_seq(self, room: str) -> int:
        return self._seqs.get(room, 0)

    # ------------------------------------------------------------ members

    def add_member(self, room: str, name: str, uid: str = "") -> tuple[Member, bool]:
        """The member's receipts and join point, and whether it is new to the room (joining
        now: at the room's last seq). A row left by another identity under this name (freed
        and taken again) becomes this one's."""
        self.write_marks()
        cur = self._db.execute(
            "INSERT OR IGNORE INTO members (room, name, joined, uid, joined_seq) VALUES (?, ?, ?, ?, ?)",
            (room, name, self._clock(), uid, self.last_seq(room)),
        )
        if cur.rowcount == 0:
            self._db.execute("UPDATE members SET uid = ? WHERE room = ? AND name = ? AND uid != ?",
                             (uid, room, name, uid))
        row = self._db.execute(
            "SELECT delivered, read, joined_seq FROM members WHERE room = ? AND name = ?", (room, name)
        ).fetchone()
        return Member(name, int(row[0]), int(row[1]), int(row[2])), cur.rowcount == 1

    def member_count(self, room: str) -> int:
        return int(self._db.execute("SELECT count(*) FROM members WHERE room = ?", (room,)).fetchone()[0])

    def members_named(self, room: str, names: list[str]) -> list[Member]:
        self.write_marks()
        marks = ",".join("?" * len(names))
        return [Member(n, d, r, j) for n, d, r, j in self._db.execute(
            f"SELECT name, delivered, read, joined_seq FROM members WHERE room = ? AND name IN ({marks})",
            (room, *names))] if names else []

    def is_member(self, room: str, name: str, uid: str) -> bool:
        """Whether `name` joined `room` as the identity `uid` (a membership is that identity's only)."""
        return self._db.execute("SELECT 1 FROM members WHERE room = ? AND name = ? AND uid = ?",
                                (room, name, uid)).fetchone() is not None

    def remove_member(self, room: str, name: str) -> None:
        """End the membership, receipts and join point with it: joining again starts anew."""
        self._db.execute("DELETE FROM members WHERE room = ? AND name = ?", (room, name))

    def members(self, room: str, limit: int = -1) -> list[Member]:
        self.write_marks()
        return [
            Member(n, d, r, j)
            for n, d, r, j in self._db.execute(
                "SELECT name, delivered, read, joined_seq FROM members WHERE room = ? ORDER BY name LIMIT ?",
                (room, limit),
            )
        ]

    def rooms_of(self, name: str, uid: str, limit: int = -1) -> list[str]:
        """The rooms `name` is a member of as the identity `uid` (at most `limit`)."""
        return [r for (r,) in self._db.execute("SELECT room FROM members WHERE name = ? AND uid = ? LIMIT ?",
                                               (name, uid, limit))]

    def set_receipt(self, room: str, name: str, delivered: int, read: int) -> Member | None:
        """Move a member's receipts forward (never back); returns the new values if changed."""
        self.write_marks()
        cur = self._db.execute(
            "UPDATE members SET delivered = max(delivered, ?, ?), read = max(read, ?)"
            " WHERE room = ? AND name = ? AND (delivered < max(?, ?) OR read < ?)",
            (delivered, read, read, room, name, delivered, read, read),
        )
        if cur.rowcount == 0:
            return None
        row = self._db.execute(
            "SELECT delivered, read, joined_seq FROM members WHERE room = ? AND name = ?", (room, name)
        ).fetchone()
        return Member(name, int(row[0]), int(row[1]), int(row[2]))

    # ------------------------------------------------------------ messages

    def find_by_cid(self, room: str, sender: str, cid: str) -> StoredMessage | None:
        if not cid:
            return None
        # `cid != ''` lets SQLite use the partial unique index (else: a scan of the room).
        row = self._db.execute(
            _SELECT_MSG + " WHERE m.room = ? AND m.sender = ? AND m.cid = ? AND m.cid != ''",
            (room, sender, cid),
        ).fetchone()
        return self._message(row) if row else None

    # ------------------------------------------------------------ group commit

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
                searchable = _searchable(text, name)
                if searchable:
                    rows.append((searchable, room, seq))
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

    def append(
        self, room: str, sender: str, text: str, cid: str = "", file: StoredFile | None = None
    ) -> StoredMessage:
        """Store a message and give it the room's next seq. Inside `begin()`..`commit()` it
        joins that transaction; otherwise it commits by itself. Raises `Duplicate` (with the
        stored message) when (sender, cid) is already stored; a failure writes nothing."""
        now = self._clock()
        db = self._db
        own = not db.in_transaction
        if own:
            db.execute("BEGIN IMMEDIATE")
        try:
            last = self._seqs.get(room)
            if last is None:
                raise StoreError(f"no room named {room!r}")
            seq = last + 1
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
                    "INSERT INTO messages (room, seq, sender, time, text, cid, file_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (room, seq, sender, now, text, cid, file_id),
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
            searchable = _searchable(text, file.name if file else None)
            if searchable:
                self._fts.append((searchable, room, seq))
            if own:
                self.commit()
        except BaseException as exc:
            if own:
                self.rollback()
            if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
                raise self._failure(exc, "this message") from exc
            raise
        return StoredMessage(room, seq, sender, now, text, cid, file)

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

    def history(
        self, room: str, *, after: int = 0, before: int | None = None, limit: int = 100
    ) -> tuple[list[StoredMessage], bool]:
        """The newest `limit` messages with after < seq < before, oldest first, and whether
        older ones (still > after) exist."""
        upper = before if before is not None else 2**62
        rows = self._db.execute(
            _SELECT_MSG + " WHERE m.room = ? AND m.seq > ? AND m.seq < ?"
            " ORDER BY m.seq DESC LIMIT ?",
            (room, after, upper, limit + 1),
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        rows.reverse()
        return self._with_reactions(room, [self._message(r) for r in rows]), more

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
            _SELECT_MSG + f" WHERE m.room = ? AND m.seq IN ({marks}) ORDER BY m.seq DESC",
            (room, *seqs),
        ).fetchall()
        return self._with_reactions(room, [self._message(r) for r in rows])

    # ------------------------------------------------------------ reactions

    def set_reaction(self, room: str, seq: int, emoji: str, name: str, on: bool) -> bool:
        """True if this changed anything."""
        if on:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO reactions (room, seq, emoji, name) VALUES (?, ?, ?, ?)",
                (room, seq, emoji, name),
            )
        else:
            cur = self._db.execute(
                "DELETE FROM reactions WHERE room = ? AND seq = ? AND emoji = ? AND name = ?",
                (room, seq, emoji, name),
            )
        return cur.rowcount == 1

    def reaction_counts(self, room: str, seq: int) -> dict[str, int]:
        """emoji -> how many reacted with it, for one message."""
        return {str(e): int(n) for e, n in self._db.execute(
            "SELECT emoji, count(*) FROM reactions WHERE room = ? AND seq = ? GROUP BY emoji", (room, seq))}

    def message_exists(self, room: str, seq: int) -> bool:
        return (
            self._db.execute(
                "SELECT 1 FROM messages WHERE room = ? AND seq = ?", (room, seq)
            ).fetchone()
            is not None
        )

    # ------------------------------------------------------------ files

    def file_readable(self, blob_id: str, name: str, rooms: Iterable[str]) -> bool:
        """Whether `name` may read the body `blob_id` (a file or its thumbnail): it posted
        it, or it is posted in an open room (anyone may watch those), in a room `name` is a
        member of, or in one of `rooms` (those its connection receives: watched locked rooms
        were let in by their password)."""
        rooms = list(rooms)
        watched = f" OR m.room IN ({','.join('?' * len(rooms))})" if rooms else ""
        # messages.file_id is a TEXT column: compared as text, its index is used.
        return self._db.execute(
            "SELECT 1 FROM files f JOIN messages m ON m.file_id = CAST(f.id AS TEXT)"
            " WHERE (f.blob_id = ? OR f.thumb_id = ?) AND (m.sender = ?"
            " OR m.room IN (SELECT name FROM rooms WHERE password = '')"
            " OR m.room IN (SELECT room FROM members WHERE name = ?)" + watched + ") LIMIT 1",
            (blob_id, blob_id, name, name, *rooms),
        ).fetchone() is not None

    def rename_blobs(self, renames: dict[str, str]) -> None:
        """Point every file message at new ids (old -> new), in one transaction."""
        self.commit()
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for old, new in renames.items():
                self._db.execute("UPDATE files SET blob_id = ? WHERE blob_id = ?", (new, old))
                self._db.execute("UPDATE files SET thumb_id = ? WHERE thumb_id = ?", (new, old))

    # ------------------------------------------------------------ helpers

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

    @staticmethod
    def _message(row: tuple[object, ...]) -> StoredMessage:
        room, seq, sender, t, text, cid, blob, name, size, mime, thumb, w, h = row
        file = None
        if blob is not None:
            file = StoredFile(str(blob), str(name), int(size), str(mime),  # type: ignore[call-overload]
                              None if thumb is None else str(thumb), int(w), int(h))  # type: ignore[call-overload]
        return StoredMessage(str(room), int(seq), str(sender), float(t), str(text), str(cid), file)  # type: ignore[call-overload,arg-type]

    def _with_reactions(self, room: str, msgs: list[StoredMessage]) -> list[StoredMessage]:
        """Each message's most used MAX_REACTION_KINDS emoji, with their counts and the first
        MAX_REACTION_NAMES names (by name): bounded however many were stored."""
        if not msgs:
            return msgs
        span = (room, min(m.seq for m in msgs), max(m.seq for m in msgs))
        counts: dict[int, dict[str, int]] = {}
        for seq, emoji, n in self._db.execute(
                "SELECT seq, emoji, count(*) FROM reactions WHERE room = ? AND seq BETWEEN ? AND ?"
                " GROUP BY seq, emoji", span):
            counts.setdefault(seq, {})[emoji] = n
        if not counts:
            return msgs
        top = {seq: dict(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_REACTION_KINDS])
               for seq, kinds in counts.items()}
        names: dict[tuple[int, str], list[str]] = {}
        for seq, emoji, name in self._db.execute(
                "SELECT seq, emoji, name FROM (SELECT seq, emoji, name, row_number() OVER"
                " (PARTITION BY seq, emoji ORDER BY name) AS n FROM reactions"
                " WHERE room = ? AND seq BETWEEN ? AND ?) WHERE n <= ? ORDER BY seq, emoji, name",
                (*span, MAX_REACTION_NAMES)):
            if emoji in top[seq]:
                names.setdefault((seq, emoji), []).append(name)
        for m in msgs:
            for emoji, n in top.get(m.seq, {}).items():
                m.reactions[emoji] = names.get((m.seq, emoji), [])
                m.reaction_counts[emoji] = n
        return msgs


_SELECT_MSG = (
    "SELECT m.room, m.seq, m.sender, m.time, m.text, m.cid,"
    " f.blob_id, f.name, f.size, f.mime, f.thumb_id, f.width, f.height"
    " FROM messages m LEFT JOIN files f ON f.id = m.file_id"
)


def _merge_marks(into: dict[tuple[str, str], int], marks: dict[tuple[str, str], int]) -> None:
    for key, seq in marks.items():
        if seq > into.get(key, 0):
            into[key] = seq


def _searchable(text: str, file_name: str | None) -> str:
    """What the search index holds for a message: its text, and a file's name."""
    return text if file_name is None else f"{text} {file_name}".strip()
