"""Which identity holds which name, and what each identity used of its quotas.

A bound name has one row per comparison key (the server's `name_keys`: names that look
alike share a key), so a name that looks like one bound to another identity is found by a
primary-key lookup. Keys are computed by the caller: the store knows nothing of Unicode.

Invariants:
- A key belongs to at most one identity (uid); an identity may hold several names.
- Releasing a name removes every key row of it and its memberships of locked rooms, so
  whoever takes the name next inherits nothing.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["NameBook", "Binding", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS identities (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    uid TEXT NOT NULL,
    bound REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identities_uid ON identities (uid);
CREATE TABLE IF NOT EXISTS quota_uses (
    uid TEXT NOT NULL,
    what TEXT NOT NULL,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS quota_uses_uid ON quota_uses (uid, what, time);
"""

#: Quota rows older than this are of no use to any quota window.
_KEEP_USES = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Binding:
    name: str  # as first bound
    uid: str
    bound: float  # unix time


class NameBook:
    """Works on the store's connection (and so inside its transactions)."""

    def __init__(self, db: sqlite3.Connection, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def holders(self, keys: Sequence[str]) -> list[Binding]:
        """The bindings of names that share any of `keys`."""
        marks = ",".join("?" * len(keys))
        return [Binding(str(n), str(u), float(b)) for n, u, b in self._db.execute(
            f"SELECT DISTINCT name, uid, bound FROM identities WHERE name_key IN ({marks})", tuple(keys))]

    def bind(self, keys: Sequence[str], name: str, uid: str) -> bool:
        """Bind the keys not bound yet to `uid` (the caller checked none is another's); True
        if the name was new to it. Memberships recorded before names had owners (no uid)
        go to the first identity that binds the name."""
        now = self._clock()
        cur = self._db.executemany("INSERT OR IGNORE INTO identities (name_key, name, uid, bound)"
                                   " VALUES (?, ?, ?, ?)", [(k, name, uid, now) for k in keys])
        if cur.rowcount <= 0:
            return False
        self._db.execute("UPDATE members SET uid = ? WHERE name = ? AND uid = ''", (uid, name))
        return True

    def names_of(self, uid: str) -> list[str]:
        return [str(n) for (n,) in self._db.execute(
            "SELECT DISTINCT name FROM identities WHERE uid = ? ORDER BY name", (uid,))]

    def release(self, keys: Sequence[str]) -> tuple[list[Binding], list[str]]:
        """Free the names that share any of `keys`: (what was bound, the locked rooms whose
        membership went with them)."""
        freed = self.holders(keys)
        names = sorted({b.name for b in freed})
        if not names:
            return [], []
        marks = ",".join("?" * len(names))
        locked = [str(r) for (r,) in self._db.execute(
            f"SELECT DISTINCT m.room FROM members m JOIN rooms r ON r.name = m.room"
            f" WHERE m.name IN ({marks}) AND (r.password != '' OR r.name LIKE '@%') ORDER BY m.room", names)]
        self._db.execute(f"DELETE FROM identities WHERE name IN ({marks})", names)
        self._db.execute(f"DELETE FROM members WHERE name IN ({marks}) AND room IN"
                         " (SELECT name FROM rooms WHERE password != '' OR name LIKE '@%')", names)
        return freed, locked

    # ------------------------------------------------------------ quotas

    def used(self, uid: str, what: str, within: float) -> int:
        """How often `uid` used `what` (under any of its names) in the last `within` seconds."""
        row = self._db.execute("SELECT count(*) FROM quota_uses WHERE uid = ? AND what = ? AND time >= ?",
                               (uid, what, self._clock() - within)).fetchone()
        return int(row[0])

    def use(self, uid: str, what: str) -> None:
        now = self._clock()
        self._db.execute("DELETE FROM quota_uses WHERE uid = ? AND what = ? AND time < ?",
                         (uid, what, now - _KEEP_USES))
        self._db.execute("INSERT INTO quota_uses (uid, what, time) VALUES (?, ?, ?)", (uid, what, now))
