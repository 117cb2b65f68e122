"""Chat history in SQLite (WAL): the `Store` its parts make up.

The connection belongs to one thread (the server's event loop); only the checkpointer
thread has a connection of its own. Each part keeps its invariants in its own module:
schema (file modes, migrations), groupcommit (transactions, writes held in memory), rooms,
members (receipts), messages (seq, cid), reactions (bounded read-back), files (who may
read a body), conversations (direct conversations, edits and deletes).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .cluster import ClusterMarks
from .conversations import Conversations
from .copies import Copies
from .errors import StoreError
from .files import Files
from .identities import NameBook
from .members import Members
from .reactions import Reactions
from .rooms import Rooms
from .schema import open_history

__all__ = ["Store"]


class Store(Rooms, Members, Conversations, Reactions, Files, Copies, ClusterMarks):
    """One SQLite database. Not thread-safe: owned by the server's event loop thread."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        try:
            db = open_history(path, clock)
            #: Names bound to identities, and quotas per identity (same connection, same transactions).
            self.names = NameBook(db, clock)
            super().__init__(db, clock)
            self._checkpointer: threading.Thread | None = None
            self._stop_checkpoints = threading.Event()
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
