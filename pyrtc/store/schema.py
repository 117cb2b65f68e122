"""The history database's file, tables and migrations.

Invariants:
- The database and its -wal/-shm files are 0600 in a 0700 folder: the file is made private
  before SQLite opens it (its journals take its mode), and files from a version before
  that are tightened here.
- A column added after the first release of the schema gets a default that keeps the
  meaning older rows had; `open_history` adds what a database lacks, so any older file opens.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from ..private import open_private, private_dir, private_file
from . import cluster, identities

__all__ = ["DEFAULT_ROOMS", "SCHEMA", "open_history"]

DEFAULT_ROOMS = ("General", "Gaming", "Study")

SCHEMA = """
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


def open_history(path: Path, clock: Callable[[], float] = time.time) -> sqlite3.Connection:
    """Open (or make) the database at `path` with its tables up to date and the default
    rooms in it. In autocommit mode: the store opens every transaction itself. Raises
    sqlite3.Error (the store turns it into StoreError)."""
    private_dir(path.parent)
    # Made 0600 before SQLite opens it: its -wal and -shm files take the database's mode.
    os.close(open_private(path, os.O_WRONLY | os.O_CREAT))
    for journal in ("-wal", "-shm"):  # from a version before this one
        private_file(path.with_name(path.name + journal))
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL: a commit survives a process crash (kill -9); only an OS crash
    # or power loss can lose the last transactions.
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    # Checkpoints (which fsync) run on a background thread, not inside a COMMIT on
    # the event loop: see `Store.start_checkpointer`.
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.executescript(SCHEMA + identities.SCHEMA + cluster.SCHEMA)
    _migrate(db)
    for room in DEFAULT_ROOMS:
        db.execute("INSERT OR IGNORE INTO rooms (name, created) VALUES (?, ?)", (room, clock()))
    return db


def _migrate(db: sqlite3.Connection) -> None:
    """Add the columns a database made by an older version lacks."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(rooms)")}
    if "password" not in columns:  # added after the first release of the schema
        db.execute("ALTER TABLE rooms ADD COLUMN password TEXT NOT NULL DEFAULT ''")
    if "indexed" not in columns:  # ditto; until then every message was indexed at once
        db.execute("ALTER TABLE rooms ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0")
        db.execute("UPDATE rooms SET indexed = last_seq")
    if "creator" not in columns:  # ditto: who made it, for the rooms-per-hour quota
        db.execute("ALTER TABLE rooms ADD COLUMN creator TEXT NOT NULL DEFAULT ''")
        db.execute("CREATE INDEX IF NOT EXISTS rooms_creator ON rooms (creator, created)")
    member_columns = {r[1] for r in db.execute("PRAGMA table_info(members)")}
    if "uid" not in member_columns:
        # protocol 3: a membership counts only for the identity that joined ('' before:
        # the first identity to bind the name takes them, see NameBook.bind)
        db.execute("ALTER TABLE members ADD COLUMN uid TEXT NOT NULL DEFAULT ''")
    message_columns = {r[1] for r in db.execute("PRAGMA table_info(messages)")}
    for column, kind in (("uid", "TEXT NOT NULL DEFAULT ''"), ("reply_to", "INTEGER NOT NULL DEFAULT 0"),
                         ("edited", "REAL NOT NULL DEFAULT 0"), ("deleted", "INTEGER NOT NULL DEFAULT 0"),
                         ("change", "INTEGER NOT NULL DEFAULT 0")):
        if column not in message_columns:  # protocol 4: replies, edits, deletes
            db.execute(f"ALTER TABLE messages ADD COLUMN {column} {kind}")
    db.execute("CREATE INDEX IF NOT EXISTS messages_change ON messages (room, change) WHERE change > 0")
    db.execute("CREATE TABLE IF NOT EXISTS directs (room TEXT PRIMARY KEY, uid_a TEXT NOT NULL,"
               " name_a TEXT NOT NULL, uid_b TEXT NOT NULL, name_b TEXT NOT NULL) WITHOUT ROWID")
    db.execute("CREATE INDEX IF NOT EXISTS directs_a ON directs (uid_a)")
    db.execute("CREATE INDEX IF NOT EXISTS directs_b ON directs (uid_b)")
    if "joined_seq" not in member_columns:  # ditto; 0: counted for every message, as before
        db.execute("ALTER TABLE members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0")
