"""The members part of the history store: who joined which room, as which identity, and
their receipts.

Invariants: receipts only move forward (delivered/read are "up to seq"); a membership is
the identity's (uid) that joined; readers write the receipts held in memory first
(`write_marks`), so they see every sender's receipts for its own messages.
"""

from __future__ import annotations

from .groupcommit import GroupCommit
from .records import Member

__all__ = ["Members"]


class Members(GroupCommit):
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
        return self._member(room, name), cur.rowcount == 1

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
        """The rooms `name` is a member of as the identity `uid` (at most `limit`), direct
        conversations aside (`directs_of`)."""
        return [r for (r,) in self._db.execute("SELECT room FROM members WHERE name = ? AND uid = ?"
                                               " AND room NOT LIKE '@%' LIMIT ?",
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
        return self._member(room, name)

    def _member(self, room: str, name: str) -> Member:
        row = self._db.execute(
            "SELECT delivered, read, joined_seq FROM members WHERE room = ? AND name = ?", (room, name)
        ).fetchone()
        return Member(name, int(row[0]), int(row[1]), int(row[2]))
