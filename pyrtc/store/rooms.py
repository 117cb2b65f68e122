"""The rooms part of the history store: names, passwords, who made them, their last seq.

Invariant: room names are unique without regard to case (`find_room` gives the stored
spelling); a room's last seq is `_seqs`' (see groupcommit), never the stored column's.
"""

from __future__ import annotations

from .groupcommit import GroupCommit

__all__ = ["Rooms"]


class Rooms(GroupCommit):
    def rooms(self) -> list[tuple[str, int, int, bool]]:
        """(name, last_seq, member count, has a password) for every room, by name."""
        return self.rooms_page(limit=-1)

    def rooms_page(self, after: str = "", limit: int = 200) -> list[tuple[str, int, int, bool]]:
        """`rooms()`, only those named after `after` (without regard to case), `limit` of them."""
        return [
            (name, self._seqs.get(name, 0), members, bool(locked))
            for name, members, locked in self._db.execute(
                "SELECT r.name, (SELECT count(*) FROM members m WHERE m.room = r.name),"
                " r.password != '' FROM rooms r WHERE r.name > ? COLLATE NOCASE AND r.name NOT LIKE '@%'"
                " ORDER BY r.name COLLATE NOCASE LIMIT ?", (after, limit)
            )
        ]

    def room_count(self) -> int:
        # Direct conversations (`@…`) are nobody else's business: never listed nor counted.
        return int(self._db.execute("SELECT count(*) FROM rooms WHERE name NOT LIKE '@%'").fetchone()[0])

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
